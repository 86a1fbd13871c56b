"""The repaired document as the generator sees it: models, enums, operations and groups."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import overrides as ov
from .naming import enum_member, pascal, safe_name, safe_param, singular, snake
from .overrides import HAND_WRITTEN
from .plans import tier_for_tag
from .spec import PAGING_PARAMS, Json, iter_operations, success_response

_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")
#: Field names a model cannot use as they are: ``self`` (``__init__``), ``raw_response`` (the
#: base class), and names its annotations use (a class attribute would shadow them).
_RESERVED_FIELD_NAMES = frozenset(
    {"self", "raw_response", "datetime", "str", "int", "float", "bool", "list", "dict"}
)
_ID_LIKE = re.compile(r"(^id$|Id$|Ids$|^ids$|^(take|skip|limit|offset)$)")


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
# Types and models
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TypeExpr:
    """A Python type annotation and the generated names it uses."""

    text: str
    names: frozenset[str] = frozenset()
    is_any: bool = False

    def union(self, other: TypeExpr) -> TypeExpr:
        if self.is_any or other.is_any:
            return ANY
        return TypeExpr(f"{self.text} | {other.text}", self.names | other.names)

    def optional(self) -> TypeExpr:
        return self if self.is_any else TypeExpr(f"{self.text} | None", self.names)

    def list_of(self) -> TypeExpr:
        return TypeExpr(f"list[{self.text}]", self.names)


ANY = TypeExpr("Any", is_any=True)


@dataclass
class FieldDef:
    py_name: str
    json_name: str
    type: TypeExpr
    required: bool
    literal: str | None
    description: str


@dataclass
class ModelDef:
    name: str
    source: str
    description: str
    fields: list[FieldDef] = field(default_factory=list)


@dataclass
class EnumDef:
    name: str
    values: list[str | int]
    kind: str  # "str" | "int"
    members: list[tuple[str, str | int]] = field(default_factory=list)


class TypeMapper:
    """Maps schemas to type annotations, registering models and enums on the way."""

    def __init__(self, doc: Json) -> None:
        self.schemas: Json = doc["components"]["schemas"]
        self.class_names = {name: self._class_name(name) for name in self.schemas}
        self.models: dict[str, ModelDef] = {}
        self.enums: dict[str, EnumDef] = {}
        self._enum_keys: dict[tuple[str, tuple[str | int, ...]], str] = {}
        for name, schema in self.schemas.items():
            if not self._free_form(schema):
                self._component(name)

    @staticmethod
    def _class_name(name: str) -> str:
        cleaned = re.sub(r"\W", "_", name)
        return cleaned[:1].upper() + cleaned[1:]

    # -- components ------------------------------------------------------------------------

    @staticmethod
    def _free_form(schema: Json) -> bool:
        """An object schema without properties: a ``dict``, not a model."""
        return schema.get("type") == "object" and not schema.get("properties")

    def _component(self, name: str) -> str:
        cls = self.class_names[name]
        if cls in self.models or cls in self.enums:
            return cls
        schema = self.schemas[name]
        if "enum" in schema and schema.get("type") in ("string", "number", "integer"):
            self._register_enum(cls, schema["enum"])
        else:
            self._model(cls, schema, f"#/components/schemas/{name}")
        return cls

    def _model(self, cls: str, schema: Json, source: str) -> None:
        model = ModelDef(cls, source, first_sentence(schema.get("description")))
        self.models[cls] = model  # registered before the fields: recursion terminates
        required = set(schema.get("required", ()))
        used: set[str] = set()
        for json_name, sub in schema.get("properties", {}).items():
            py = safe_name(snake(json_name)) or "field"
            while py in used or py in _RESERVED_FIELD_NAMES:
                py += "_"
            used.add(py)
            literal = _literal(sub)
            if literal is not None:
                type_ = TypeExpr(f"Literal[{literal!r}]")
            else:
                type_ = self.map(sub, owner=cls, prop=json_name)
            if sub.get("nullable") and not type_.is_any:
                type_ = type_.optional()
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
            name = re.sub(r"_\d{4}_\d{2}_\d{2}$", "", owner) + pascal(prop)
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

    def map(self, schema: Json | None, *, owner: str, prop: str) -> TypeExpr:
        """The annotation for ``schema`` (``nullable`` is left to the caller)."""
        if not schema:
            return ANY
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if self._free_form(self.schemas[name]):
                return self.map(
                    {k: v for k, v in self.schemas[name].items() if k != "description"},
                    owner=self.class_names[name],
                    prop="",
                )
            cls = self._component(name)
            return TypeExpr(cls, frozenset({cls}))
        for key in ("allOf", "anyOf", "oneOf"):
            if key in schema:
                result: TypeExpr | None = None
                for branch in schema[key]:
                    mapped = self.map(branch, owner=owner, prop=prop)
                    if result is None:
                        result = mapped
                    elif mapped.text not in result.text.split(" | "):
                        result = result.union(mapped)
                return result or ANY
        type_ = schema.get("type")
        enum = schema.get("enum")
        if enum and type_ in ("string", "number", "integer", None):
            literal = _literal(schema)
            if literal is not None:
                return TypeExpr(f"Literal[{literal!r}]")
            name = self._enum(enum, owner, prop)
            return TypeExpr(name, frozenset({name}))
        if type_ == "string":
            if schema.get("format") == "date-time":
                return TypeExpr("datetime")
            return TypeExpr("str")
        if type_ == "integer":
            return TypeExpr("int")
        if type_ == "number":
            return TypeExpr("int") if _int_like(schema, prop) else TypeExpr("float")
        if type_ == "boolean":
            return TypeExpr("bool")
        if type_ == "array":
            return self.map(schema.get("items"), owner=owner, prop=prop).list_of()
        if type_ == "object" or "properties" in schema:
            if schema.get("properties"):
                cls = self._inline_name(owner + pascal(prop))
                self._model(cls, schema, f"{owner}.{prop}")
                return TypeExpr(cls, frozenset({cls}))
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict) and extra:
                value = self.map(extra, owner=owner, prop=prop)
                return TypeExpr(f"dict[str, {value.text}]", value.names)
            return TypeExpr("dict[str, Any]")
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
    location: str
    required: bool
    type: TypeExpr
    description: str


@dataclass
class BodyDef:
    type: TypeExpr
    model: str | None  # the input model when the body is one model (keyword fields allowed)


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
    returns: TypeExpr | None  # None: the call returns None (envelope without data)
    item: TypeExpr | None  # paginated operations: the type of one item
    pagination: str | None  # "TAKE_SKIP" | "LIMIT_OFFSET"
    default_page_size: int | None
    const: str = ""

    @property
    def python_name(self) -> str:
        return ".".join((*self.group, self.name))


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


class OperationBuilder:
    def __init__(self, doc: Json, types: TypeMapper) -> None:
        self.doc = doc
        self.types = types
        self.schemas = types.schemas

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
        returns, item, is_list = self._returns(op)
        query_names = {p.json_name for p in query_params}
        if {"take", "skip"} <= query_names or "take" in query_names:
            pagination: str | None = "TAKE_SKIP"
        elif {"limit", "offset"} & query_names:
            pagination = "LIMIT_OFFSET"
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
            item=item if pagination else None,
            pagination=pagination,
            default_page_size=default_size,
        )

    def _params(self, path: str, op: Json) -> tuple[list[ParamDef], list[ParamDef]]:
        order = re.findall(r"{(\w+)}", path)
        path_params: dict[str, ParamDef] = {}
        query: list[ParamDef] = []
        for param in op.get("parameters", []):
            if param["in"] == "header":
                continue  # auth headers and cal-api-version: never arguments ("auth-headers")
            schema = param.get("schema", {})
            if schema.get("enum"):
                values = ", ".join(repr(v) for v in schema["enum"])
                type_ = TypeExpr(f"Literal[{values}]")
            elif schema.get("type") == "array" and schema.get("items", {}).get("enum"):
                values = ", ".join(repr(v) for v in schema["items"]["enum"])
                type_ = TypeExpr(f"Sequence[Literal[{values}]]")
            elif schema.get("type") == "array":
                inner = self.types.map(schema.get("items"), owner="", prop=param["name"])
                type_ = TypeExpr(f"Sequence[{inner.text}]", inner.names)
            elif param["in"] == "path" and param["name"] in ov.LOOSE_ID_PARAMS:
                type_ = TypeExpr("int | str")
            else:
                type_ = self.types.map(schema, owner="", prop=param["name"])
                if type_.text == "datetime":
                    type_ = TypeExpr("datetime | str")
            definition = ParamDef(
                param["name"],
                safe_param(snake(param["name"])),
                param["in"],
                bool(param.get("required")) or param["in"] == "path",
                type_,
                first_sentence(param.get("description"), 160),
            )
            if param["in"] == "path":
                path_params[param["name"]] = definition
            elif param["in"] == "query":
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
        model = type_.text if "$ref" in schema and type_.text in self.types.models else None
        return BodyDef(type_, model)

    def _returns(self, op: Json) -> tuple[TypeExpr | None, TypeExpr | None, bool]:
        """(return type, item type, data is a list)."""
        content = success_response(op).get("content") or {}
        schema = content.get("application/json", {}).get("schema")
        if not schema:
            return ANY, ANY, False
        owner = pascal(op["operationId"])
        if "$ref" in schema:
            owner = self.types.class_names[schema["$ref"].rsplit("/", 1)[-1]]
            schema = self.schemas[schema["$ref"].rsplit("/", 1)[-1]]
        props = schema.get("properties") or {}
        if "data" in props:
            data = props["data"]
            type_ = self.types.map(data, owner=owner, prop="data")
            if data.get("nullable") and not type_.is_any:
                type_ = type_.optional()
            if data.get("type") == "array":
                item = self.types.map(data.get("items"), owner=owner, prop="data")
                return type_, item, True
            return type_, ANY, False
        if set(props) == {"status"}:
            return None, None, False
        return ANY, ANY, False


@dataclass
class Spec:
    """Everything the renderers need."""

    models: dict[str, ModelDef]
    enums: dict[str, EnumDef]
    operations: list[OpDef]
    #: generated name → module of ``models/_generated`` that defines it
    modules: dict[str, str] = field(default_factory=dict)


COMMON_MODULE = "_common"
ENUM_MODULE = "_enums"
OTHER_MODULE = "_other"


def assign_modules(spec: Spec) -> dict[str, str]:
    """Where each model lives: with the one top-level group that uses it, else shared.

    A model used (directly or through other models) by one top-level group only lives in that
    group's module; one used by several in ``_common``; envelopes and schemas no operation
    decodes in ``_other``. Enums in ``_enums``. Dependencies then only point from a group's
    module to ``_common`` and ``_enums`` (and from ``_other`` to anything): no import cycles,
    and the first call of a group loads only the models it can meet.
    """
    deps = {name: set().union(*(f.type.names for f in m.fields)) for name, m in spec.models.items()}
    users: dict[str, set[str]] = {}
    for op in spec.operations:
        todo: set[str] = set()
        for type_ in (op.returns, op.item, op.body.type if op.body else None):
            if type_ is not None:
                todo |= type_.names
        for param in op.query_params + op.path_params:
            todo |= param.type.names
        seen: set[str] = set()
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                users.setdefault(name, set()).add(op.group[0])
                todo |= deps.get(name, set())
    modules = {name: ENUM_MODULE for name in spec.enums}
    for name in spec.models:
        groups = users.get(name, set())
        if not groups:
            modules[name] = OTHER_MODULE
        elif len(groups) == 1:
            modules[name] = next(iter(groups))
        else:
            modules[name] = COMMON_MODULE
    return modules


def build(doc: Json) -> Spec:
    types = TypeMapper(doc)
    operations = OperationBuilder(doc, types).build()
    for op in operations:
        op.const = "_".join((*op.group, op.name)).upper()
    spec = Spec(types.models, types.enums, operations)
    spec.modules = assign_modules(spec)
    return spec


__all__ = ["PAGING_PARAMS", "Spec", "build", "derive_method_name"]
