"""The repaired document as the generator sees it: types, models, enums, operations.

``build(doc)`` reads the repaired document into a :class:`Spec`:

- every schema an operation can send or receive becomes a :class:`Type` (a tree: primitives,
  enums, models, lists, mappings, unions); object schemas become :class:`ModelDef`, string and
  integer enums :class:`EnumDef`. Envelopes (``{status, data}``) are unwrapped, never models.
- identical schemas (same fields, same types) become one class (:func:`_dedupe`);
- models that appear together in a union form a *family* with a base class holding the fields
  they share (:func:`_families`), so that a method returning "one of these" returns the base;
  a union that also allows a list of them gets a *series* class (the list, with the shared
  fields of its first element);
- each model and enum lives in the module of the API group that uses it (:func:`_modules`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from . import overrides as ov
from .naming import enum_member, pascal, safe_name, safe_param, singular, snake
from .overrides import HAND_WRITTEN
from .plans import tier_for_tag
from .spec import Json, iter_operations, success_response

_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")
_VERSION_SUFFIX = re.compile(r"_\d{4}_\d{2}_\d{2}$")
#: Attribute names a model cannot use as they are: ``self`` (``__init__``), the public API of
#: :class:`~icalendly_async.models.Model`, and names the annotations use. (Names starting with
#: ``m_`` get a trailing underscore too: ``_m_*`` are the base class's own.)
_RESERVED_FIELD_NAMES = frozenset(
    {
        "self",
        "extra",
        "raw_response",
        "to_dict",
        "from_dict",
        "replace",
        "datetime",
        "date",
        "str",
        "int",
        "float",
        "bool",
        "list",
        "dict",
        "Any",
        "Sequence",
    }
)
_ID_LIKE = re.compile(r"(^id$|Id$|Ids$|^ids$|^(take|skip|limit|offset)$)")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def first_sentence(text: str | None, limit: int = 0) -> str:
    """The first sentence (or line) of ``text``, whitespace collapsed, optionally truncated."""
    if not text:
        return ""
    flat = " ".join(text.split())
    match = re.match(r"(.+?[.!?])(\s|$)", flat)
    sentence = match.group(1) if match else flat
    if limit and len(sentence) > limit:
        sentence = sentence[: limit - 1].rstrip() + "…"
    return sentence


# --------------------------------------------------------------------------------------------
# Types
# --------------------------------------------------------------------------------------------

PRIMITIVES = ("str", "int", "float", "bool", "datetime", "date", "any", "dict")


@dataclass(frozen=True)
class Type:
    """A type of the document, as a tree.

    ``kind``: one of :data:`PRIMITIVES` (``dict`` is a free-form object, ``dict[str, Any]``),
    ``enum`` / ``model`` (``name``), ``literal`` (``literal``: the one string value), ``list``
    (``args[0]``: the item), ``seq`` (a list declared ``Sequence[args[0]]``: a family base's
    field whose members hold lists of different members), ``map`` (``dict[str, args[0]]``) or
    ``union`` (``args``: the members; ``name``: the family base they share, if they do).
    ``nullable``: ``null`` is allowed too.
    """

    kind: str
    name: str = ""
    args: tuple[Type, ...] = ()
    literal: str | None = None
    nullable: bool = False

    def names(self) -> frozenset[str]:
        """The generated classes (models and enums) this type refers to."""
        own = {self.name} if self.name and self.kind in ("enum", "model", "union") else set()
        return frozenset(own).union(*(a.names() for a in self.args))

    def with_null(self, nullable: bool = True) -> Type:
        return replace(self, nullable=nullable)

    def walk(self) -> Iterator[Type]:
        yield self
        for arg in self.args:
            yield from arg.walk()

    def substitute(self, names: dict[str, str]) -> Type:
        """This type with the class names in ``names`` replaced."""
        args = tuple(a.substitute(names) for a in self.args)
        name = names.get(self.name, self.name) if self.kind in ("model", "enum") else self.name
        if args == self.args and name == self.name:
            return self
        return replace(self, name=name, args=args)

    @property
    def models(self) -> tuple[str, ...]:
        """For a union: the model members' names."""
        return tuple(a.name for a in self.args if a.kind == "model")


ANY = Type("any")


def model_type(name: str) -> Type:
    return Type("model", name)


def make_union(members: Iterable[Type]) -> Type:
    """The union of ``members`` (nested unions flattened, duplicates dropped, ``Any`` absorbs)."""
    flat: list[Type] = []
    nullable = False
    for member in members:
        parts = member.args if member.kind == "union" else (member,)
        for part in parts:
            nullable = nullable or part.nullable or member.nullable
            part = part.with_null(False)
            if part.kind == "any":
                return ANY
            if part not in flat:
                flat.append(part)
    if len(flat) == 1:
        return flat[0].with_null(nullable)
    return Type("union", args=tuple(flat), nullable=nullable)


# --------------------------------------------------------------------------------------------
# Models and enums
# --------------------------------------------------------------------------------------------


@dataclass
class FieldDef:
    py_name: str
    json_name: str
    type: Type
    required: bool
    literal: str | None
    description: str

    def key(self) -> tuple[str, Type, bool, str | None]:
        return (self.json_name, self.type, self.required, self.literal)


@dataclass
class ModelDef:
    name: str
    source: str
    description: str
    fields: list[FieldDef] = field(default_factory=list)
    base: str | None = None  # the family base it subclasses
    #: family bases: the members, in the order a value is tried against them
    members: tuple[str, ...] = ()
    #: series classes: the family base whose elements it holds, and its attribute name
    series_of: str | None = None
    series_attr: str = ""
    module: str = ""

    @property
    def is_family(self) -> bool:
        return bool(self.members)

    def signature(self) -> tuple[Any, ...]:
        return tuple(sorted((f.key() for f in self.fields), key=lambda k: k[0]))


@dataclass
class EnumDef:
    name: str
    values: list[str | int]
    kind: str  # "str" | "int"
    members: list[tuple[str, str | int]] = field(default_factory=list)
    module: str = ""


class TypeMapper:
    """Maps schemas to :class:`Type`, registering models and enums on the way."""

    def __init__(self, doc: Json) -> None:
        self.schemas: Json = doc["components"]["schemas"]
        self.class_names = {name: self._class_name(name) for name in self.schemas}
        self.models: dict[str, ModelDef] = {}
        self.enums: dict[str, EnumDef] = {}
        self._enum_keys: dict[tuple[str, tuple[str | int, ...]], str] = {}
        self._mapping: set[str] = set()

    @staticmethod
    def _class_name(name: str) -> str:
        cleaned = re.sub(r"\W", "_", name)
        return cleaned[:1].upper() + cleaned[1:]

    # -- components ------------------------------------------------------------------------

    @staticmethod
    def free_form(schema: Json) -> bool:
        """An object schema without properties: a ``dict``, not a model."""
        return schema.get("type") == "object" and not schema.get("properties")

    def component(self, name: str) -> Type:
        cls = self.class_names[name]
        if cls in self.models:
            return model_type(cls)
        if cls in self.enums:
            return Type("enum", cls)
        schema = self.schemas[name]
        if "enum" in schema and schema.get("type") in ("string", "number", "integer"):
            self._register_enum(cls, schema["enum"])
            return Type("enum", cls)
        self.model(cls, schema, f"#/components/schemas/{name}")
        return model_type(cls)

    def model(self, cls: str, schema: Json, source: str) -> None:
        model = ModelDef(cls, source, first_sentence(schema.get("description")))
        self.models[cls] = model  # registered before the fields: recursion terminates
        required = set(schema.get("required", ()))
        used: set[str] = set()
        for json_name, sub in schema.get("properties", {}).items():
            py = safe_name(snake(json_name)) or "field"
            while py in used or py in _RESERVED_FIELD_NAMES or py.startswith("m_"):
                py += "_"
            used.add(py)
            literal = _literal(sub)
            if literal is not None:
                type_ = Type("literal", literal=literal)
            else:
                type_ = self.map(sub, owner=cls, prop=json_name)
            if sub.get("nullable") and type_.kind != "any":
                type_ = type_.with_null()
            model.fields.append(
                FieldDef(
                    py,
                    json_name,
                    type_,
                    json_name in required,
                    literal,
                    first_sentence(sub.get("description"), 300),
                )
            )

    def _register_enum(self, cls: str, values: list[Any]) -> None:
        kind = "int" if all(isinstance(v, int) for v in values) else "str"
        enum = EnumDef(cls, [], kind)
        for value in values:
            enum.members.append((self._member(value, enum), value))
            enum.values.append(value)
        self.enums[cls] = enum

    def _enum(self, values: list[Any], owner: str, prop: str) -> str:
        key = (prop, tuple(values))
        if key in self._enum_keys:
            return self._enum_keys[key]
        name = ov.ENUM_NAMES.get((prop, values[0]))
        existing = self.enums.get(name) if name else None
        if name is not None and existing is not None:
            for value in values:  # the table names one class for both lists: merge them
                if value not in existing.values:
                    existing.values.append(value)
                    existing.members.append((self._member(value, existing), value))
            self._enum_keys[key] = name
            return name
        if name is None:
            name = _VERSION_SUFFIX.sub("", owner) + pascal(prop)
            existing = self.enums.get(name)
            if existing is not None and set(existing.values) == set(values):
                self._enum_keys[key] = name
                return name
        while name in self.enums or name in self.class_names.values():
            name += "_"
        self._register_enum(name, values)
        self._enum_keys[key] = name
        return name

    @staticmethod
    def _member(value: str | int, enum: EnumDef) -> str:
        member = enum_member(value if enum.kind == "int" else str(value))
        taken = {m for m, _ in enum.members}
        while member in taken:
            member += "_"
        return member

    # -- schemas → types -------------------------------------------------------------------

    def map(self, schema: Json | None, *, owner: str, prop: str) -> Type:
        """The type of ``schema`` (its own ``nullable`` is left to the caller)."""
        if not schema:
            return ANY
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if self.free_form(self.schemas[name]):
                return self.map(
                    {k: v for k, v in self.schemas[name].items() if k != "description"},
                    owner=self.class_names[name],
                    prop="",
                )
            return self.component(name)
        for key in ("allOf", "anyOf", "oneOf"):
            if key in schema:
                members = [self.map(b, owner=owner, prop=prop) for b in schema[key]]
                if {m.kind for m in members} == {"date", "datetime"}:
                    return Type("date")  # a datetime is a date; the argument sends either
                return make_union(members) if members else ANY
        type_ = schema.get("type")
        enum = schema.get("enum")
        if enum and type_ in ("string", "number", "integer", None):
            literal = _literal(schema)
            if literal is not None:
                return Type("literal", literal=literal)
            return Type("enum", self._enum(enum, owner, prop))
        if type_ == "string":
            fmt = schema.get("format")
            if fmt == "date-time":
                return Type("datetime")
            if fmt == "date":
                return Type("date")
            return Type("str")
        if type_ == "integer":
            return Type("int")
        if type_ == "number":
            return Type("int") if _int_like(schema, prop) else Type("float")
        if type_ == "boolean":
            return Type("bool")
        if type_ == "array":
            return Type("list", args=(self.map(schema.get("items"), owner=owner, prop=prop),))
        if type_ == "object" or "properties" in schema:
            if schema.get("properties"):
                cls = self._inline_name(owner + pascal(prop))
                self.model(cls, schema, f"{owner}.{prop}")
                return model_type(cls)
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict) and extra:
                value = self.map(extra, owner=owner, prop=prop)
                return Type("dict") if value.kind == "any" else Type("map", args=(value,))
            return Type("dict")
        return ANY

    def _inline_name(self, name: str) -> str:
        while name in self.models or name in self.enums or name in self.class_names.values():
            name += "_"
        return name


def _literal(schema: Json) -> str | None:
    enum = schema.get("enum")
    if isinstance(enum, list) and len(enum) == 1 and isinstance(enum[0], str):
        return enum[0]
    return None


def _int_like(schema: Json, prop: str) -> bool:
    if _ID_LIKE.search(prop):
        return True
    for key in ("example", "default"):
        value = schema.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return True
    return False


# --------------------------------------------------------------------------------------------
# Operations
# --------------------------------------------------------------------------------------------


@dataclass
class ParamDef:
    json_name: str
    py_name: str
    location: str  # "path" | "query" | "body"
    required: bool
    type: Type
    description: str
    explode: bool = True  # arrays in the query: repeated keys (the default style) or a,b,c


@dataclass
class BodyDef:
    type: Type
    required: bool  # the document's requestBody.required
    #: the models a dict or keywords are checked against (the union's members, or the one)
    models: tuple[str, ...] = ()
    #: the keyword arguments: every field of every model (py name resolved later)
    fields: list[FieldDef] = field(default_factory=list)


@dataclass
class OpDef:
    operation_id: str
    method: str
    path: str
    tag: str
    summary: str
    description: str
    group: tuple[str, ...]
    name: str
    tier: str
    api_version: str | None
    auth: str
    path_params: list[ParamDef]
    query_params: list[ParamDef]
    body: BodyDef | None
    #: None: the call returns None (an envelope without data); ANY: the JSON as sent
    returns: Type | None
    #: list operations (GET returning an array): the item type; the method returns a paginator
    item: Type | None
    pagination: str | None  # "TAKE_SKIP" | "LIMIT_OFFSET" | None (one page)
    default_page_size: int | None
    #: the published document declares the success envelope (else an empty or bare body is
    #: accepted: the data is then None, or the body itself)
    envelope_declared: bool = True
    const: str = ""
    body_optional: bool = False

    @property
    def python_name(self) -> str:
        return ".".join((*self.group, self.name))

    @property
    def paginated(self) -> bool:
        return self.item is not None


def method_override(operation_id: str) -> str | None:
    """The METHOD_NAMES entry for ``operation_id``: exact, else the longest key it ends with."""
    if operation_id in ov.METHOD_NAMES:
        return ov.METHOD_NAMES[operation_id]
    keys = [key for key in ov.METHOD_NAMES if operation_id.endswith(key)]
    return ov.METHOD_NAMES[max(keys, key=len)] if keys else None


def group_path(tag: str) -> tuple[str, ...]:
    dotted = ov.TAG_GROUPS.get(tag) or ".".join(snake(part) for part in tag.split(" / "))
    return tuple(dotted.split("."))


def api_version(op: Json) -> str | None:
    for param in op.get("parameters", []):
        if param["in"] == "header" and param["name"].lower() == ov.VERSION_HEADER:
            schema = param.get("schema", {})
            for candidate in (*schema.get("enum", ()), schema.get("default")):
                if isinstance(candidate, str) and _VERSION.fullmatch(candidate):
                    return candidate
            match = _VERSION.search(param.get("description") or "")
            if match:
                return match.group(0)
    return None


def auth_requirement(op: Json) -> str:
    if op["operationId"] in ov.CLIENT_SECRET_OPERATIONS:
        return "CLIENT_SECRET"
    for param in op.get("parameters", []):
        is_secret = param["in"] == "header" and param["name"].lower() == "x-cal-secret-key"
        if is_secret and param.get("required"):
            return "PLATFORM_CLIENT"
    return "ANY"


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s and s != "v2"]


def _is_param(segment: str) -> bool:
    return segment.startswith("{")


def derive_method_name(method: str, rest: list[str], summary: str, returns_list: bool) -> str:
    """A method name from the HTTP method, the path below the group's prefix, and the summary."""
    words = [snake(s) for s in rest if not _is_param(s)]
    ends_with_param = bool(rest) and _is_param(rest[-1])
    verb = snake(summary.split(" ", 1)[0]) if summary else ""
    if not words:
        if method == "get":
            return "list" if returns_list and not ends_with_param else "get"
        if method == "post":
            return "create"
        if method in ("patch", "put"):
            return "update"
        return "delete" if ends_with_param else "delete_all"
    phrase = "_".join(words)
    last = words[-1]
    if method == "get":
        if ends_with_param:
            return f"get_{singular(phrase)}"
        return f"list_{phrase}" if returns_list else f"get_{phrase}"
    if verb and (last == verb or last.startswith(verb + "_")):
        # an action: POST /bookings/{uid}/cancel → cancel; POST /.../ics-feed/save → save_ics_feed
        head = "_".join(words[:-1])
        return f"{last}_{head}" if head and not ends_with_param else last
    if method == "post":
        return f"create_{singular(phrase)}"
    if method in ("patch", "put"):
        return f"update_{singular(phrase)}"
    return f"delete_{singular(phrase)}"


def _common_prefix(paths: list[list[str]]) -> list[str]:
    prefix = paths[0]
    for segs in paths[1:]:
        n = 0
        while n < min(len(prefix), len(segs)) and prefix[n] == segs[n]:
            n += 1
        prefix = prefix[:n]
    return prefix


#: Names the generated methods use for themselves; parameters that collide get a trailing "_".
COMMON_KEYWORDS = ("extra_headers", "extra_query", "timeout", "api_version")
RESERVED_PARAMS = frozenset({"self", "body", "max_items", *COMMON_KEYWORDS})


class OperationBuilder:
    def __init__(self, doc: Json, types: TypeMapper, undeclared: frozenset[str]) -> None:
        self.doc = doc
        self.types = types
        self.schemas = types.schemas
        self.undeclared = undeclared

    def build(self) -> list[OpDef]:
        raw = [  # the documented additions are covered by hand-written code (OAuthApp)
            entry for entry in iter_operations(self.doc) if HAND_WRITTEN not in entry[2]
        ]
        by_tag: dict[str, list[list[str]]] = {}
        named: dict[str, list[list[str]]] = {}
        for path, _method, raw_op in raw:
            by_tag.setdefault(raw_op["tags"][0], []).append(_segments(path))
            if method_override(raw_op["operationId"]) is None:
                named.setdefault(raw_op["tags"][0], []).append(_segments(path))
        # The group's prefix: what the paths of its not-overridden operations share.
        prefixes = {tag: _common_prefix(named.get(tag) or paths) for tag, paths in by_tag.items()}
        ops = [self._op(path, method, o, prefixes[o["tags"][0]]) for path, method, o in raw]
        for op in ops:
            if op.name == "delete_all" and not any(
                other.group == op.group and other.path.startswith(op.path + "/{") for other in ops
            ):
                op.name = "delete"  # nothing below it: one thing is deleted, not "all"
        self._check_names(ops)
        return ops

    def _check_names(self, ops: list[OpDef]) -> None:
        seen: dict[str, str] = {}
        for op in ops:
            if op.python_name in seen:
                raise ValueError(
                    f"{op.operation_id} and {seen[op.python_name]} are both {op.python_name}: "
                    "add one of them to overrides.METHOD_NAMES"
                )
            seen[op.python_name] = op.operation_id
        groups = {op.group for op in ops}
        for op in ops:
            if (*op.group, op.name) in groups:
                raise ValueError(f"{op.python_name} is also a group: rename it in METHOD_NAMES")

    def _op(self, path: str, method: str, op: Json, prefix: list[str]) -> OpDef:
        op_id: str = op["operationId"]
        tag: str = op["tags"][0]
        group = group_path(tag)
        path_params, query_params = self._params(path, op)
        body = self._body(op)
        returns, is_list = self._returns(op)
        query_names = {p.json_name for p in query_params}
        if "take" in query_names:
            pagination: str | None = "TAKE_SKIP"
        elif {"limit", "offset"} & query_names:
            pagination = "LIMIT_OFFSET"
        else:
            pagination = None
        item: Type | None = None
        if is_list and method == "get" and returns is not None:
            item = returns.args[0] if returns.kind == "list" else ANY
        elif pagination and method == "get":
            item = ANY  # a paged operation whose data the document does not type
        else:
            pagination = None
        default_size = None
        if pagination:
            size_name = "take" if pagination == "TAKE_SKIP" else "limit"
            for param in op.get("parameters", []):
                if param["name"] == size_name and isinstance(param["schema"].get("default"), int):
                    default_size = param["schema"]["default"]
        rest = _segments(path)[len(prefix) :]
        summary = (op.get("summary") or "").strip()
        name = method_override(op_id) or derive_method_name(
            method, rest, summary, is_list or pagination is not None
        )
        return OpDef(
            operation_id=op_id,
            method=method.upper(),
            path=path,
            tag=tag,
            summary=summary,
            description=(op.get("description") or "").strip(),
            group=group,
            name=name,
            tier=tier_for_tag(tag).name,
            api_version=api_version(op),
            auth=auth_requirement(op),
            path_params=path_params,
            query_params=query_params,
            body=body,
            returns=returns,
            item=item,
            pagination=pagination,
            default_page_size=default_size,
            envelope_declared=f"{method.upper()} {path}" not in self.undeclared,
        )

    def _param_type(self, param: Json) -> Type:
        schema = param.get("schema", {})
        name = param["name"]
        if schema.get("type") == "array":
            items = schema.get("items", {})
            return Type("list", args=(self._scalar_param(items, name),))
        if param["in"] == "path" and name in ov.LOOSE_ID_PARAMS:
            return make_union([Type("int"), Type("str")])
        return self._scalar_param(schema, name)

    def _scalar_param(self, schema: Json, name: str) -> Type:
        enum = schema.get("enum")
        if enum:
            return (
                make_union(Type("literal", literal=v) for v in enum)
                if len(enum) > 1
                else (Type("literal", literal=enum[0]))
            )
        return self.types.map(schema, owner="", prop=name)

    def _params(self, path: str, op: Json) -> tuple[list[ParamDef], list[ParamDef]]:
        order = re.findall(r"{(\w+)}", path)
        path_params: dict[str, ParamDef] = {}
        query: list[ParamDef] = []
        taken = set(RESERVED_PARAMS)
        for param in op.get("parameters", []):
            if param["in"] not in ("path", "query"):
                continue  # auth headers and cal-api-version: never arguments ("auth-headers")
            py = safe_param(snake(param["name"]))
            while py in taken:
                py += "_"
            taken.add(py)
            definition = ParamDef(
                param["name"],
                py,
                param["in"],
                bool(param.get("required")) or param["in"] == "path",
                self._param_type(param),
                first_sentence(param.get("description"), 160),
                explode=param.get("explode", param.get("style", "form") == "form"),
            )
            if param["in"] == "path":
                path_params[param["name"]] = definition
            else:
                query.append(definition)
        query.sort(key=lambda p: not p.required)  # required first, then document order
        return [path_params[name] for name in order], query

    def _body(self, op: Json) -> BodyDef | None:
        body = op.get("requestBody")
        if not body:
            return None
        schema = body.get("content", {}).get("application/json", {}).get("schema")
        if not schema:
            return None
        type_ = self.types.map(schema, owner=pascal(op["operationId"]), prop="body")
        if type_.kind == "model":
            models: tuple[str, ...] = (type_.name,)
        elif type_.kind == "union" and all(a.kind == "model" for a in type_.args):
            models = type_.models
        else:
            models = ()
        return BodyDef(type_, bool(body.get("required")), models)

    def _returns(self, op: Json) -> tuple[Type | None, bool]:
        """(return type, data is a list)."""
        content = success_response(op).get("content") or {}
        schema = content.get("application/json", {}).get("schema")
        if not schema:
            return ANY, False
        owner = pascal(op["operationId"])
        if "$ref" in schema:
            owner = self.types.class_names[schema["$ref"].rsplit("/", 1)[-1]]
            schema = self.schemas[schema["$ref"].rsplit("/", 1)[-1]]
        props = schema.get("properties") or {}
        if "data" in props:
            data = props["data"]
            type_ = self.types.map(data, owner=owner, prop="data")
            if data.get("nullable") and type_.kind != "any":
                type_ = type_.with_null()
            return type_, type_.kind == "list"
        if set(props) == {"status"}:
            return None, False
        return ANY, False


# --------------------------------------------------------------------------------------------
# The whole
# --------------------------------------------------------------------------------------------


@dataclass
class Spec:
    """Everything the renderers need."""

    models: dict[str, ModelDef]
    enums: dict[str, EnumDef]
    operations: list[OpDef]

    @property
    def modules(self) -> dict[str, str]:
        """Generated name → module of ``models/_generated`` that defines it."""
        out = {name: m.module for name, m in self.models.items()}
        out.update({name: e.module for name, e in self.enums.items()})
        return out

    def types(self) -> Iterator[Type]:
        """Every type an operation uses directly (answers, items, bodies, parameters)."""
        for op in self.operations:
            for type_ in (op.returns, op.item, op.body.type if op.body else None):
                if type_ is not None:
                    yield type_
            for param in op.path_params + op.query_params:
                yield param.type


def build(doc: Json, *, undeclared: frozenset[str] = frozenset()) -> Spec:
    """The :class:`Spec` of the repaired document.

    ``undeclared``: ``"METHOD /path"`` of the operations whose published success response is
    not the envelope (the generic envelope was declared for them by a repair).
    """
    types = TypeMapper(doc)
    operations = OperationBuilder(doc, types, undeclared).build()
    spec = Spec(types.models, types.enums, operations)
    _prune(spec)
    _dedupe(spec)
    _families(spec)
    _prune(spec)
    _body_fields(spec)
    _modules(spec)
    for op in operations:
        op.const = "_".join((*op.group, op.name)).upper()
    return spec


def _rewrite(spec: Spec, names: dict[str, str]) -> None:
    """Replace class names everywhere (models' fields, operations)."""
    if not names:
        return
    for model in spec.models.values():
        for fdef in model.fields:
            fdef.type = fdef.type.substitute(names)
    for op in spec.operations:
        if op.returns is not None:
            op.returns = op.returns.substitute(names)
        if op.item is not None:
            op.item = op.item.substitute(names)
        if op.body is not None:
            op.body.type = op.body.type.substitute(names)
            op.body.models = tuple(dict.fromkeys(names.get(m, m) for m in op.body.models))
        for param in op.path_params + op.query_params:
            param.type = param.type.substitute(names)


def _closure(spec: Spec, start: set[str]) -> set[str]:
    """``start`` and every model or enum they lead to (fields, family members and bases)."""
    todo = set(start)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        model = spec.models.get(name)
        if model is not None:
            for fdef in model.fields:
                todo |= fdef.type.names()
            todo |= set(model.members)
            todo |= {n for n in (model.base, model.series_of) if n}
    return seen


def _names_of(op: OpDef) -> set[str]:
    """The models and enums an operation names directly (answer, items, body, parameters)."""
    names: set[str] = set()
    for type_ in (op.returns, op.item, op.body.type if op.body else None):
        if type_ is not None:
            names |= type_.names()
    for param in op.path_params + op.query_params:
        names |= param.type.names()
    return names


def reachable(spec: Spec) -> set[str]:
    """The models and enums an operation can send or receive, directly or through others."""
    return _closure(spec, set().union(*(_names_of(op) for op in spec.operations)))


def _prune(spec: Spec) -> None:
    """Drop what no operation reaches: envelopes, and schemas nothing uses."""
    keep = reachable(spec)
    keep |= {m.name for m in spec.models.values() if m.series_of in keep}
    spec.models = {name: m for name, m in spec.models.items() if name in keep}
    spec.enums = {name: e for name, e in spec.enums.items() if name in keep}


def _dedupe(spec: Spec) -> None:
    """Identical schemas become one class: the first in document order keeps its name.

    Models are identical when their fields are (names, types, required, literals), after the
    classes those refer to are merged themselves: repeated until nothing changes.
    """
    enum_keys: dict[tuple[str, tuple[str | int, ...]], str] = {}
    names: dict[str, str] = {}
    for enum in spec.enums.values():
        key = (enum.kind, tuple(sorted(map(str, enum.values))))
        keep = enum_keys.setdefault(key, enum.name)
        if keep != enum.name:
            names[enum.name] = keep
    for name in names:
        del spec.enums[name]
    _rewrite(spec, names)
    while True:
        by_signature: dict[tuple[Any, ...], str] = {}
        names = {}
        for model in spec.models.values():
            keep = by_signature.setdefault(model.signature(), model.name)
            if keep != model.name:
                names[model.name] = keep
        if not names:
            return
        for name in names:
            del spec.models[name]
        _rewrite(spec, names)


# -- families ------------------------------------------------------------------------------


def _unions(spec: Spec) -> list[tuple[str, ...]]:
    """The sets of models that appear together in a union (as themselves or as lists of them)."""
    found: list[tuple[str, ...]] = []
    all_types = list(spec.types())
    all_types += [f.type for m in spec.models.values() for f in m.fields]
    for type_ in all_types:
        for node in type_.walk():
            if node.kind != "union":
                continue
            members: list[str] = []
            for arg in node.args:
                inner = arg.args[0] if arg.kind == "list" and arg.args else arg
                if inner.kind == "model" and inner.name not in members:
                    members.append(inner.name)
            if len(members) > 1 or (len(members) == 1 and len(node.args) > 1):
                found.append(tuple(members))
    return found


def _families(spec: Spec) -> None:
    """Give models that appear together in unions a common base class (see the module doc).

    Families are the connected groups of models that share unions. The base holds the fields
    all members have with a common type: the same type, or models (or lists of models) whose
    own join is a family base. Joining may merge further families, so this runs to a fixpoint.
    A member whose fields are exactly the base's is the base itself.
    """
    parent: dict[str, str] = {}

    def find(name: str) -> str:
        while parent.get(name, name) != name:
            name = parent[name]
        return name

    def union(names: Iterable[str]) -> bool:
        roots = sorted({find(n) for n in names}, key=order.__getitem__)
        for other in roots[1:]:
            parent[other] = roots[0]
        return len(roots) > 1

    order = {name: index for index, name in enumerate(spec.models)}
    for together in _unions(spec):
        union(together)
    while True:
        groups = _groups(spec, find)
        changed = False
        for members in groups.values():
            if len(members) < 2:
                continue
            for json_name in _shared_names(spec, members):
                inner = [_model_of(_field(spec, m, json_name).type) for m in members]
                if all(inner) and len({find(n) for n in inner if n}) > 1:
                    changed |= union(n for n in inner if n)
        if not changed:
            break
    bases: dict[str, str] = {}  # member → its family base
    for root, members in _groups(spec, find).items():
        if len(members) > 1 and not _shared_names(spec, members):
            continue  # nothing in common: the unions stay unions
        if len(members) == 1 and not _in_list_union(spec, root):
            continue
        bases.update(dict.fromkeys(members, _make_base(spec, members)))
    for model in spec.models.values():
        base = bases.get(model.name)
        if base is not None and base != model.name:
            model.base = base
    _base_fields(spec, bases)
    _series(spec, bases)
    _union_types(spec, bases)


def _groups(spec: Spec, find: Any) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for name in spec.models:
        groups.setdefault(find(name), []).append(name)
    return groups


def _in_list_union(spec: Spec, name: str) -> bool:
    """``name`` appears in a union with a list of itself (``X | list[X]``)."""
    return any(members == (name,) for members in _unions(spec))


def _field(spec: Spec, model: str, json_name: str) -> FieldDef:
    return next(f for f in spec.models[model].fields if f.json_name == json_name)


def _shared_names(spec: Spec, members: list[str]) -> list[str]:
    first = [f.json_name for f in spec.models[members[0]].fields]
    others = [{f.json_name for f in spec.models[m].fields} for m in members[1:]]
    return [name for name in first if all(name in o for o in others)]


def _model_of(type_: Type) -> str | None:
    """The model a field holds, alone or as the items of a list (else None)."""
    if type_.kind == "model":
        return type_.name
    if type_.kind in ("list", "seq") and type_.args[0].kind == "model":
        return type_.args[0].name
    return None


def _join(types: list[Type], bases: dict[str, str], spec: Spec) -> Type | None:
    """The type a base declares for a field whose members have ``types`` (None: no join)."""
    if all(t == types[0] for t in types):
        return types[0]
    nullable = any(t.nullable for t in types)
    plain = [t.with_null(False) for t in types]
    if all(t == plain[0] for t in plain):
        return plain[0].with_null(nullable)
    if all(t.kind == "literal" for t in plain):
        return Type("str", nullable=nullable)
    if all(t.kind in ("model", "list") for t in plain):
        inner = [_model_of(t) for t in plain]
        lists = {t.kind == "list" for t in plain}
        if all(inner) and len(lists) == 1:
            family = {bases.get(n or "") for n in inner}
            if len(family) == 1 and None not in family:
                (base,) = family
                assert base is not None
                joined = model_type(base)
                if lists == {True}:
                    return Type("seq", args=(joined,), nullable=nullable)
                return joined.with_null(nullable)
    return None


def _make_base(spec: Spec, members: list[str]) -> str:
    """The base class of a family: a member whose fields are the shared ones, or a new class."""
    members = sorted(members, key=list(spec.models).index)
    shared = _shared_names(spec, members)
    for member in members:
        own = [f.json_name for f in spec.models[member].fields]
        if sorted(own) == sorted(shared) and all(
            _field(spec, member, n).type == _field(spec, m, n).type for m in members for n in shared
        ):
            return member
    name = ov.FAMILY_NAMES.get(members[0]) or _family_name(members)
    while name in spec.models or name in spec.enums:
        name += "_"
    spec.models[name] = ModelDef(
        name,
        "one of " + ", ".join(members),
        f"What {', '.join(f'``{m}``' for m in members)} have in common.",
    )
    return name


def _family_name(members: list[str]) -> str:
    """The members' common leading and trailing words: ``OutputAddressLocation_2024_06_14``
    and ``OutputLinkLocation_2024_06_14`` → ``OutputLocation``."""
    words = [re.findall(r"[A-Z][a-z0-9]*|[a-z0-9]+", _VERSION_SUFFIX.sub("", m)) for m in members]
    head: list[str] = []
    for column in zip(*words, strict=False):
        if len(set(column)) > 1:
            break
        head.append(column[0])
    tail: list[str] = []
    for column in zip(*(reversed(w) for w in words), strict=False):
        if len(set(column)) > 1:
            break
        tail.insert(0, column[0])
    name = "".join(head + tail) if (head or tail) and head != words[0] else ""
    return name or _VERSION_SUFFIX.sub("", members[0]) + "Base"


def _base_fields(spec: Spec, bases: dict[str, str]) -> None:
    """Fill in the fields of each family base (and order each member's fields base-first)."""
    families: dict[str, list[str]] = {}
    for member, base in bases.items():
        families.setdefault(base, []).append(member)
    for base, members in families.items():
        base_def = spec.models[base]
        base_def.members = tuple(members)
        if base in members:
            fields = list(base_def.fields)
        else:
            fields = []
            for json_name in _shared_names(spec, members):
                defs = [_field(spec, m, json_name) for m in members]
                joined = _join([d.type for d in defs], bases, spec)
                if joined is None:
                    continue
                literal = defs[0].literal if len({d.literal for d in defs}) == 1 else None
                fields.append(
                    FieldDef(
                        defs[0].py_name,
                        json_name,
                        joined if literal is None else Type("literal", literal=literal),
                        all(d.required for d in defs),
                        literal,
                        defs[0].description,
                    )
                )
            base_def.fields = fields
        first = [f.json_name for f in fields]
        for member in members:
            if member == base:
                continue
            model = spec.models[member]
            model.fields.sort(
                key=lambda f: first.index(f.json_name) if f.json_name in first else len(first)
            )


def _series(spec: Spec, bases: dict[str, str]) -> None:
    """A class per family that some union also allows as a list (the list, and the fields of
    its first element)."""
    for type_ in [*spec.types(), *(f.type for m in spec.models.values() for f in m.fields)]:
        for node in type_.walk():
            if node.kind != "union" or not any(a.kind == "list" for a in node.args):
                continue
            inner = {_model_of(a) for a in node.args}
            family = {bases.get(n or "") for n in inner}
            if len(family) != 1 or None in family:
                continue
            (base,) = family
            assert base is not None
            if any(m.series_of == base for m in spec.models.values()):
                continue
            name, attr = ov.SERIES_NAMES.get(
                base, (_VERSION_SUFFIX.sub("", base) + "List", "items")
            )
            spec.models[name] = ModelDef(
                name,
                f"a list of {base}",
                f"Several ``{base}`` at once (the service answered with a list): the fields are "
                f"the first one's, ``{attr}`` holds them all.",
                base=base,
                series_of=base,
                series_attr=attr,
            )


def _union_types(spec: Spec, bases: dict[str, str]) -> None:
    """Unions of one family's models become the family base (or its series, with lists)."""

    def simplify(type_: Type) -> Type:
        args = tuple(simplify(a) for a in type_.args)
        if type_.kind != "union":
            return replace(type_, args=args) if args != type_.args else type_
        inner = {_model_of(a) for a in args}
        family = {bases.get(n or "") for n in inner}
        if len(family) != 1 or None in family:
            return replace(type_, args=args)
        (base,) = family
        assert base is not None
        # Keep the members as the union's args (the decoder tries those), typed as the base.
        return Type("union", name=base, args=args, nullable=type_.nullable)

    for model in spec.models.values():
        for fdef in model.fields:
            fdef.type = simplify(fdef.type)
    for op in spec.operations:
        if op.returns is not None:
            op.returns = simplify(op.returns)
        if op.item is not None:
            op.item = simplify(op.item)
        if op.body is not None:
            op.body.type = simplify(op.body.type)


def series_name(spec: Spec, base: str) -> str | None:
    for model in spec.models.values():
        if model.series_of == base:
            return model.name
    return None


# -- bodies ----------------------------------------------------------------------------------


def _body_fields(spec: Spec) -> None:
    """The keyword arguments of each body: the fields of its model(s), merged by JSON name."""
    for op in spec.operations:
        body = op.body
        if body is None or not body.models:
            continue
        merged: dict[str, FieldDef] = {}
        for name in body.models:
            for fdef in spec.models[name].fields:
                if fdef.literal is not None:
                    continue  # constant: the model's default
                known = merged.get(fdef.json_name)
                if known is None:
                    merged[fdef.json_name] = replace(fdef)
                elif known.type != fdef.type:
                    known.type = make_union([known.type, fdef.type])
        for fdef in merged.values():
            fdef.required = all(
                any(f.json_name == fdef.json_name and f.required for f in spec.models[m].fields)
                for m in body.models
            )
        body.fields = sorted(merged.values(), key=lambda f: not f.required)
    for op in spec.operations:
        body = op.body
        if body is not None:
            op.body_optional = not body.required or any(
                not any(f.required and f.literal is None for f in spec.models[m].fields)
                for m in body.models
            )


# -- modules ---------------------------------------------------------------------------------


def _modules(spec: Spec) -> None:
    """Each model and enum lives in the module of an API group (top-level group) that uses it.

    The home of a name is, among the groups of the operations that reach it, the one whose tags
    are least nested (``bookings`` before ``orgs.bookings``), then the one with most such
    operations, then the first alphabetically. A family lives with its base.
    """
    uses: dict[str, dict[tuple[str, ...], int]] = {}
    for op in spec.operations:
        for name in _closure(spec, _names_of(op)):
            counts = uses.setdefault(name, {})
            counts[op.group] = counts.get(op.group, 0) + 1

    def home(name: str) -> str:
        counts = uses.get(name) or {("shared",): 1}
        words = snake(name)

        def named(group: tuple[str, ...]) -> bool:  # slots for RangeSlot_2024_09_04
            return singular(group[-1]) in words

        best = min(counts, key=lambda g: (len(g), not named(g), -counts[g], g))
        return best[0]

    for model in spec.models.values():
        model.module = home(model.name)
    for model in spec.models.values():
        if model.base:
            model.module = spec.models[model.base].module
    for enum in spec.enums.values():
        enum.module = home(enum.name)


__all__ = ["ANY", "Spec", "Type", "build", "derive_method_name"]
