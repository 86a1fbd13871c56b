"""The structure hooks of the converter: models, unions, lists, numbers, strings (hand-written).

Two paths decode a model and they give the same results and the same errors:

- the *generic* one (:meth:`Structurer.structure_generic`): per field a dict lookup, the field's
  cattrs hook, then ``cls(**kwargs)``; it is the reference and it writes the error messages
  (``"{Class}.{jsonName}: …"``, ``"{Class}: missing required a, b"``);
- the *compiled* one (:meth:`Structurer.compiled`): per model class, once, on first use, a
  function generated from the class's fields, the way cattrs' ``make_dict_structure_fn`` does.
  Values whose type is exactly the field's (a ``str`` for a ``str``, a known value for an
  enum, a ``dict`` for a nested model, a ``list`` for a list) are taken on inline fast paths;
  every other value goes through the very hook the generic path calls. The instance is built
  without ``__init__`` (``object.__new__`` and the slots' descriptors, absent fields at their
  attrs default) when the class has nothing ``__init__`` would do besides (no validators,
  converters, factories, pre/post-init hooks or other slots). Whatever goes wrong, the
  compiled function hands the same data to a *reference* converter, configured alike but
  generic only, which raises the error of record (or, should the two ever disagree, returns
  its own result). The reference decodes nested values generically too: a failure deep down
  costs one more generic decoding per level, not twice the work per level.

Lists (of anything but ``Any``) get a compiled comprehension too, falling back to the
reference's hook (cattrs' own, whose errors carry the index); ``dict[str, Any]`` a copy. Unions
remember the order to try their members in per value shape and call the members' compiled
functions directly.

``install(conv)`` without a reference gives the generic path alone (the reference itself, and
what the tests compare the compiled path with).
"""

from __future__ import annotations

import enum
import linecache
import types
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast, get_args, get_origin

import attrs

from ._base import (
    Model,
    _info,
    _is_literal,
    _is_model,
    _is_union,
    _is_unset,
    _order_keys,
    _order_members,
)
from ._base import error_text as _error_text

if TYPE_CHECKING:
    import cattrs

__all__ = ["Structurer", "install"]

Hook = Callable[[Any, Any], Any]
Fn = Callable[..., Any]  # a compiled function: fn(value) or fn(value, type)

_ORDER_CACHE_SIZE = 256
_ABSENT: Any = object()  # a key the data does not have


# These three are dispatched by class, so they also receive str/int subclasses (enums).
def structure_float(value: Any, _type: Any) -> Any:
    if value is None:
        return None  # a null inside a list: kept, as null fields are
    if _type is not float:
        return _type(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value  # keep 60 as 60: JSON has one number type
    return float(value)


def structure_int(value: Any, _type: Any) -> Any:
    if _type is bool:
        return _structure_bool(value)
    if value is None:
        return None  # a null inside a list: kept, as null fields are
    if _type is not int:
        return _type(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value  # never truncate
    return int(value)


def structure_str(value: Any, _type: Any) -> Any:
    if value is None:
        return None  # a null inside a list: kept, not turned into "None"
    if _type is not str:
        return _type(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (Mapping, list)):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return str(value)


def _structure_bool(value: Any) -> bool | None:
    """JSON booleans, and "true"/"false" or 0/1 as some servers send them; never bool("false")."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "false"):
            return text == "true"
    elif isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    raise TypeError(f"expected a boolean, got {value!r:.40}")


def structure_literal(value: Any, _type: Any) -> Any:
    """A literal the client does not know is kept: the server may add values."""
    return value


class _Source:
    """The globals and the fresh names of one generated function."""

    def __init__(self, **globs: Any) -> None:
        self.globs: dict[str, Any] = dict(globs)
        self._count = 0

    def name(self, obj: object, prefix: str = "g") -> str:
        self._count += 1
        name = f"{prefix}{self._count}"
        self.globs[name] = obj
        return name

    def var(self) -> str:
        self._count += 1
        return f"x{self._count}"

    def define(self, lines: list[str], fn_name: str, filename: str) -> Any:
        text = "\n".join(lines) + "\n"
        exec(compile(text, filename, "exec"), self.globs)
        # Tracebacks (and a reader) can see the source.
        linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
        return self.globs[fn_name]


def _slots(cls: type[Any]) -> dict[str, Any] | None:
    """The slot descriptors of ``cls`` by name; ``None`` if an instance may have a ``__dict__``."""
    out: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if klass is object:
            continue
        if "__slots__" not in klass.__dict__:
            return None
        for name, value in klass.__dict__.items():
            if isinstance(value, types.MemberDescriptorType):
                out[name] = value
    return out


def _setters(cls: type[Any]) -> dict[str, Any] | None:
    """Per attrs field, the slot setter to build ``cls`` without ``__init__``; ``None`` if unsafe.

    Safe when ``__init__`` is the one attrs wrote and does nothing but set each field: no
    validators, converters, factories, ``__attrs_pre_init__``/``__attrs_post_init__``, and no
    slot besides the fields, :class:`Model`'s ``_raw_response`` and ``__weakref__`` (attrs' own,
    such as a cached hash, would need ``__init__``).
    """
    init = cls.__dict__.get("__init__")
    code = getattr(init, "__code__", None)
    if code is None or "attrs generated" not in code.co_filename:
        return None
    if hasattr(cls, "__attrs_pre_init__") or hasattr(cls, "__attrs_post_init__"):
        return None
    slots = _slots(cls)
    if slots is None:
        return None
    fields = attrs.fields(cls)
    for field in fields:
        if (
            not field.init
            or field.validator is not None
            or field.converter is not None
            or field.alias != field.name
            or isinstance(field.default, attrs.Factory)  # type: ignore[arg-type]
            or field.name not in slots
        ):
            return None
    if set(slots) - {f.name for f in fields} - {"_raw_response", "__weakref__"}:
        return None
    return {field.name: slots[field.name].__set__ for field in fields}


class Structurer:
    """The structure hooks of one converter (see the module's docstring)."""

    def __init__(
        self,
        conv: cattrs.Converter,
        *,
        reference: cattrs.Converter | None = None,
        fast_paths: Mapping[Any, tuple[type[Any], Callable[[Any], Any]]] | None = None,
    ) -> None:
        self.conv = conv
        self.reference = reference
        compiled = self.compiled_mode = reference is not None
        # Per hook, a JSON type and a function f with f(x) == hook(x, t) when type(x) is it.
        self._fast_paths = dict(fast_paths or {})
        # Generic path: per model class, each field's own structure hook, so that decoding a
        # field does not go through cattrs' dispatch (a hash of the field's type) each time.
        self._plans: dict[type[Any], tuple[Any, tuple[tuple[str, str, Any, Any], ...]]] = {}
        # Compiled path.
        self._fns: dict[type[Any], Fn] = {}
        self._compiling: list[type[Any]] = []
        self._pending: list[tuple[dict[str, Any], str, type[Any]]] = []
        self._fallbacks: dict[Any, Hook] = {}
        # What the hooks handed to cattrs are, to call them directly or inline them.
        self._unions: dict[Any, tuple[Any, ...]] = {}
        self._lists: dict[Any, Any] = {}
        self.model_hook: Hook = self.structure_model if compiled else self.structure_generic

    # -- models ---------------------------------------------------------------------------

    def _plan_for(self, cls: type[Model]) -> tuple[Any, tuple[tuple[str, str, Any, Any], ...]]:
        info = _info(cls)
        fields = tuple(
            (f.name, f.json, f.type, self.conv.get_structure_hook(f.type)) for f in info.fields
        )
        self._plans[cls] = (info, fields)
        return info, fields

    def structure_generic(self, data: Any, cls: type[Model]) -> Any:
        """The reference path; it writes the error messages."""
        if not isinstance(data, Mapping):
            raise TypeError(f"expected a JSON object for {cls.__name__}, got {type(data).__name__}")
        plan = self._plans.get(cls)
        info, fields = plan if plan is not None else self._plan_for(cls)
        if not info.required <= data.keys():
            missing = sorted(info.required - data.keys())
            raise ValueError(f"{cls.__name__}: missing required {', '.join(missing)}")
        kwargs: dict[str, Any] = {}
        for name, json, type_, hook in fields:
            if json in data:
                value = data[json]
                if value is None:
                    kwargs[name] = None
                    continue
                try:
                    kwargs[name] = hook(value, type_)
                except Exception as exc:
                    raise ValueError(f"{cls.__name__}.{json}: {_error_text(exc)}") from exc
        return cls(**kwargs)

    def structure_model(self, data: Any, cls: type[Model]) -> Any:
        fn = self._fns.get(cls)
        if fn is None:
            fn = self.compiled(cls)
        return fn(data)

    def compiled(self, cls: type[Model]) -> Fn:
        """The compiled function of ``cls`` (``fn(data)``), generated on first use."""
        fn = self._fns.get(cls)
        if fn is not None:
            return fn
        if cls in self._compiling:  # a model that contains itself: bind it when it is done

            def trampoline(data: Any, _type: Any = None) -> Any:
                return self._fns[cls](data)

            return trampoline
        self._compiling.append(cls)
        try:
            fn = self._fns[cls] = self._compile_model(cls)
        except Exception:  # pragma: no cover - nothing known fails; the reference will say
            fn = self._fns[cls] = self._reference_of(cls)
        finally:
            self._compiling.remove(cls)
        if not self._compiling:
            pending, self._pending = self._pending, []
            for globs, name, target in pending:
                globs[name] = self._fns[target]
        return fn

    def fallback(self, value: Any, type_: Any) -> Any:
        """What the reference converter makes of ``value``: the result or the error of record."""
        hook = self._fallbacks.get(type_)
        if hook is None:
            assert self.reference is not None
            hook = self._fallbacks[type_] = self.reference.get_structure_hook(type_)
        return hook(value, type_)

    def _reference_of(self, cls: type[Model]) -> Fn:
        fallback = self.fallback

        def structure(data: Any, _type: Any = None) -> Any:
            return fallback(data, cls)

        return structure

    def _compile_model(self, cls: type[Model]) -> Fn:
        info = _info(cls)
        fields = attrs.fields(cast(Any, cls))
        setters = _setters(cls)
        src = _Source(cls=cls, fallback=self.fallback, new=object.__new__, absent=_ABSENT)
        lines = [
            "def structure(data, _type=None):",
            "  if type(data) is not dict:",
            "    return fallback(data, cls)",
            "  try:",
        ]
        if setters is not None:
            lines.append("    o = new(cls)")
        else:
            lines.append("    k = {}")
        for field, finfo in zip(fields, info.fields, strict=True):
            value = self._expr(finfo.type, "v", src, nullable=True)
            key = repr(finfo.json)
            if setters is not None:
                store = src.name(setters[field.name], "s")
                put = f"{store}(o, {value})"
            else:
                put = f"k[{field.name!r}] = {value}"
            if finfo.required:
                lines += [f"    v = data[{key}]", f"    {put}"]
            else:
                lines += [f"    v = data.get({key}, absent)", "    if v is not absent:"]
                lines.append(f"      {put}")
                if setters is not None:
                    lines += ["    else:", f"      {store}(o, {src.name(field.default, 'd')})"]
        lines.append("    return o" if setters is not None else "    return cls(**k)")
        lines += ["  except Exception:", "    pass", "  return fallback(data, cls)"]
        fn = src.define(lines, "structure", f"<icalendly structure {cls.__qualname__}>")
        fn.__qualname__ = fn.__name__ = f"structure_{cls.__name__}"
        return fn  # type: ignore[no-any-return]

    # -- expressions ----------------------------------------------------------------------

    def _expr(self, type_: Any, var: str, src: _Source, *, nullable: bool) -> str:
        """Python source equal to ``hook(var, type_)`` for the converter's hook of ``type_``.

        With ``nullable``, ``None`` for a ``None`` instead (a model field's ``null``).
        """
        hook = self.conv.get_structure_hook(type_)
        members = self._unions.get(hook)
        if members is not None and len(members) == 1:  # X | None | Unset: None is kept
            return self._expr(members[0], var, src, nullable=True)

        def slow() -> str:
            call = f"{src.name(hook, 'h')}({var}, {src.name(type_, 't')})"
            return f"(None if {var} is None else {call})" if nullable else call

        if hook is structure_literal:
            return var
        if _is_model(type_) and hook is self.model_hook:
            fn = self.compiled(type_)
            name = src.name(fn, "m")
            if type_ in self._compiling:
                self._pending.append((src.globs, name, type_))
            return f"(None if {var} is None else {name}({var}))" if nullable else f"{name}({var})"
        elem = self._lists.get(hook)
        if elem is not None:
            item = src.var()
            inner = self._expr(elem, item, src, nullable=False)
            return f"([{inner} for {item} in {var}] if type({var}) is list else {slow()})"
        fast = self._fast_paths.get(hook)
        if fast is not None:
            exact_type, fn = fast
            test = f"type({var}) is {src.name(exact_type, 'j')}"
            return f"({src.name(fn, 'f')}({var}) if {test} else {slow()})"
        exact = self._exact_type(type_, hook)
        if exact is not None:
            test = f"type({var}) is {exact.__name__}"
            if type_ is float:
                test = f"({test} or type({var}) is int)"
            if isinstance(type_, type) and issubclass(type_, enum.Enum):
                by_value = src.name(type_._value2member_map_, "e")
                return f"({by_value}[{var}] if {test} and {var} in {by_value} else {slow()})"
            return f"({var} if {test} else {slow()})"
        return slow()

    @staticmethod
    def _exact_type(type_: Any, hook: Any) -> type[Any] | None:
        """The JSON value type that ``hook`` returns unchanged (or, for an enum, looks up)."""
        if hook is structure_str and (type_ is str or _is_str_enum(type_)):
            return str
        if hook is structure_int and (type_ is int or _is_int_enum(type_)):
            return int
        if hook is structure_int and type_ is bool:
            return bool
        if hook is structure_float and type_ is float:
            return float
        return None

    # -- lists ----------------------------------------------------------------------------

    def list_hook(self, type_: Any) -> Hook:
        """A compiled ``list[X]`` hook; the reference's (cattrs' own) on any failure."""
        (elem,) = get_args(type_)
        src = _Source(fallback=self.fallback, list_type=type_)
        item = src.var()
        lines = [
            "def structure_list(obj, _type=None):",
            "  if type(obj) is list:",
            "    try:",
            f"      return [{self._expr(elem, item, src, nullable=False)} for {item} in obj]",
            "    except Exception:",
            "      pass",
            "  return fallback(obj, list_type)",
        ]
        hook: Hook = src.define(lines, "structure_list", f"<icalendly structure {type_}>")
        self._lists[hook] = elem
        return hook

    # -- dict[str, Any] ---------------------------------------------------------------------

    def str_dict_hook(self, type_: Any) -> Hook:
        """``dict[str, Any]``: a copy when every key is a ``str``; the reference's otherwise."""
        fallback = self.fallback

        def structure_str_dict(obj: Any, _type: Any = type_) -> Any:
            if type(obj) is dict:
                for key in obj:
                    if type(key) is not str:
                        break
                else:
                    return obj.copy()
            return fallback(obj, type_)

        return structure_str_dict

    # -- unions ---------------------------------------------------------------------------

    def union_hook(self, type_: Any) -> Hook:
        members = tuple(m for m in get_args(type_) if m is not type(None) and not _is_unset(m))
        names = " | ".join(getattr(m, "__name__", str(m)) for m in members)
        # Per member, a function of the value alone (a model's compiled function, or a call of
        # the member's hook on the generic path), on first use.
        member_fns: dict[Any, Fn] = {}

        def fn_of(member: Any) -> Fn:
            fn = member_fns.get(member)
            if fn is None:
                fn = member_fns[member] = self._member_fn(member)
            return fn

        if len(members) < 2:

            def structure_union(value: Any, _type: Any = None) -> Any:
                if value is None:
                    return None
                if members:
                    return fn_of(members[0])(value)
                raise ValueError(f"{value!r:.120} matches none of {names} ()")

            self._unions[structure_union] = members
            return structure_union

        # The order to try the members in depends only on the value's kind and, for an object,
        # on what of it _model_score looks at (_order_keys): remember it per such shape. The
        # type of ``value.get(key, absent)`` tells both the presence and the JSON kind.
        presence_keys, kind_keys, literal_keys = _order_keys(members)
        by_shape: dict[Any, tuple[Fn, ...]] = {}
        by_type: dict[type[Any], tuple[Fn, ...]] = {}

        def learn(value: Any) -> tuple[Fn, ...]:
            return tuple(map(fn_of, _order_members(members, value)))

        def learn_shape(value: Any, shape: Any) -> tuple[Fn, ...]:
            if len(by_shape) >= _ORDER_CACHE_SIZE:
                by_shape.clear()
            order = by_shape[shape] = learn(value)
            return order

        def learn_type(value: Any) -> tuple[Fn, ...]:
            order = by_type[type(value)] = learn(value)
            return order

        def rest(value: Any, order: tuple[Fn, ...], first: Exception) -> Any:
            errors = [first]
            for fn in order[1:]:
                try:
                    return fn(value)
                except Exception as exc:  # try the next branch
                    errors.append(exc)
            reasons = "; ".join(_error_text(e) for e in errors[:2])
            raise ValueError(f"{value!r:.120} matches none of {names} ({reasons})")

        src = _Source(
            Mapping=Mapping,
            absent=_ABSENT,
            by_shape=by_shape,
            by_type=by_type,
            learn=learn,
            learn_shape=learn_shape,
            learn_type=learn_type,
            rest=rest,
        )
        parts = [f"value.get({key!r}, absent)" for key in literal_keys]
        parts += [f"type(value.get({key!r}, absent))" for key in kind_keys]
        parts += [f"{key!r} in value" for key in presence_keys if key not in kind_keys]
        lines = [
            "def structure_union(value, _type=None):",
            "  if value is None:",
            "    return None",
            "  if type(value) is dict or isinstance(value, Mapping):",
            f"    shape = ({''.join(part + ', ' for part in parts)})",
            "    try:",
            "      order = by_shape[shape]",
            "    except KeyError:",
            "      order = learn_shape(value, shape)",
            "    except TypeError:  # an unhashable literal field: no caching",
            "      order = learn(value)",
            "  else:  # not an object: the order depends on the value's type alone",
            "    order = by_type.get(type(value))",
            "    if order is None:",
            "      order = learn_type(value)",
            "  try:",
            "    return order[0](value)",
            "  except Exception as exc:  # try the next branch",
            "    return rest(value, order, exc)",
        ]
        structure_union = src.define(lines, "structure_union", f"<icalendly structure {type_}>")

        self._unions[structure_union] = members
        return structure_union

    def _member_fn(self, member: Any) -> Fn:
        hook = self.conv.get_structure_hook(member)
        if not self.compiled_mode:

            def structure(value: Any) -> Any:
                return hook(value, member)

            return structure
        if _is_model(member) and hook is self.model_hook:
            return self.compiled(member)
        if hook in self._lists:
            return hook  # fn(value) works: its _type has a default
        src = _Source()
        lines = ["def structure(x1):", f"  return {self._expr(member, 'x1', src, nullable=False)}"]
        return src.define(lines, "structure", f"<icalendly structure {member}>")  # type: ignore[no-any-return]


def _is_str_enum(type_: Any) -> bool:
    return isinstance(type_, type) and issubclass(type_, enum.Enum) and issubclass(type_, str)


def _is_int_enum(type_: Any) -> bool:
    return (
        isinstance(type_, type)
        and issubclass(type_, enum.Enum)
        and issubclass(type_, int)
        and not issubclass(type_, bool)
    )


def _is_typed_list(type_: Any) -> bool:
    if get_origin(type_) is not list:
        return False
    args = get_args(type_)
    return len(args) == 1 and args[0] is not Any


def _is_str_dict(type_: Any) -> bool:
    return get_origin(type_) is dict and get_args(type_) == (str, Any)


def install(
    conv: cattrs.Converter,
    *,
    reference: cattrs.Converter | None = None,
    fast_paths: Mapping[Any, tuple[type[Any], Callable[[Any], Any]]] | None = None,
) -> Structurer:
    """Register the structure hooks on ``conv``.

    ``reference``: a converter configured alike with the generic hooks (``install`` without a
    reference); ``conv`` then gets the compiled ones and falls back to it. ``fast_paths``: per
    hook already registered on ``conv``, ``(json_type, f)`` such that ``f(x) == hook(x, t)``
    whenever ``type(x) is json_type``; compiled code calls ``f`` then.
    """
    structurer = Structurer(conv, reference=reference, fast_paths=fast_paths)
    model_hook = structurer.model_hook
    conv.register_structure_hook_factory(_is_model, lambda _cls: model_hook)
    conv.register_structure_hook_factory(_is_union, structurer.union_hook)
    if structurer.compiled_mode:
        conv.register_structure_hook_factory(_is_typed_list, structurer.list_hook)
        conv.register_structure_hook_factory(_is_str_dict, structurer.str_dict_hook)
    conv.register_structure_hook_func(_is_literal, structure_literal)
    conv.register_structure_hook(float, structure_float)
    conv.register_structure_hook(int, structure_int)
    conv.register_structure_hook(str, structure_str)
    return structurer
