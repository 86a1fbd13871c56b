"""What the generated endpoint groups are built on (hand-written).

A generated method checks its arguments here before anything is sent (:func:`path_args`,
:func:`query_args`, :func:`body_json`: a wrong type or an unknown name is a
:class:`~icalendly_async.errors.ParameterError`), calls ``client._call(operation, ...)`` (the
pipeline does the rest: tier gate, credential, limiter, retries, envelope), and hands the
response to :func:`decode` with the generated decoder of its return type.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as _dt
import enum
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, TypeVar, overload

from ..errors import DecodeError, ParameterError
from ..models._base import UNSET, Model, input_json, to_wire
from ..models._decode import Mismatch, describe
from ..models.converter import format_date, format_datetime
from ..models.envelope import preview

if TYPE_CHECKING:
    import aiohttp

    from ..response import Response
    from ._operation import Operation, Param

__all__ = [
    "Group",
    "SupportsCall",
    "Timeout",
    "body_json",
    "capture_responses",
    "decode",
    "path_args",
    "query_args",
    "record",
]

T = TypeVar("T")
Timeout: TypeAlias = "float | aiohttp.ClientTimeout | None"


class SupportsCall(Protocol):
    """The one method of the client that generated code uses (``ICalendly._call``)."""

    def _call(
        self,
        operation: Operation,
        path_params: tuple[object, ...] = (),
        *,
        query: Mapping[str, object] | None = None,
        body: object = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, object] | None = None,
        timeout: Timeout = None,
        api_version: str | None = None,
    ) -> Awaitable[Response]: ...


class Group:
    """Base of the generated endpoint groups: holds the client."""

    def __init__(self, client: SupportsCall) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<{type(self).__name__} endpoints>"


_captured: contextvars.ContextVar[list[Response] | None] = contextvars.ContextVar(
    "icalendly_captured_responses", default=None
)


@contextlib.contextmanager
def capture_responses() -> Iterator[list[Response]]:
    """Collect the responses of the calls made inside the block (in this task and its children).

    For results that cannot carry their response (lists, plain JSON, ``None``)::

        with capture_responses() as responses:
            await client.bookings.confirm(uid)
        print(responses[-1].headers["x-request-id"])
    """
    responses: list[Response] = []
    token = _captured.set(responses)
    try:
        yield responses
    finally:
        _captured.reset(token)


def record(response: Response) -> None:
    """Hand ``response`` to an active :func:`capture_responses` block, if any."""
    captured = _captured.get()
    if captured is not None:
        captured.append(response)


# -- answers --------------------------------------------------------------------------------


@overload
def decode(response: Response, operation: Operation, decoder: None) -> Any: ...


@overload
def decode(response: Response, operation: Operation, decoder: Callable[[Any], T]) -> T: ...


def decode(response: Response, operation: Operation, decoder: Callable[[Any], T] | None) -> Any:
    """``response.data`` decoded by the operation's generated ``decoder`` (``None``: as JSON).

    A value that does not fit the document raises :class:`DecodeError` naming the operation,
    the JSON path and the expected type, with the raw body. A model keeps the response
    (``.raw_response``).
    """
    record(response)
    if decoder is None:
        return response.data
    try:
        result = decoder(response.data)
    except Mismatch as error:
        raise decode_error(response, operation, error, "data") from None
    if isinstance(result, Model):
        result._m_response = response
    return result


def decode_error(
    response: Response, operation: Operation, error: Mismatch, root: str
) -> DecodeError:
    """The :class:`DecodeError` for ``error``, found at ``root`` of ``response``'s JSON."""
    where = error.where(root)
    return DecodeError(
        f"{operation.python_name}: the response does not match the document at {where}: "
        f"expected {error.expected}, got {describe(error.value)}",
        status=response.status,
        body=preview(response.content),
        operation=operation.python_name,
        path=where,
        expected=error.expected,
        content=response.content,
        response=response,
    )


# -- arguments ------------------------------------------------------------------------------


def path_args(operation: Operation, *values: object) -> tuple[str, ...]:
    """The path parameters checked and as text, in path order."""
    params = [p for p in operation.params if p.location == "path"]
    out = []
    for param, value in zip(params, values, strict=True):
        text = _arg(operation, param, value)
        assert isinstance(text, str)
        out.append(text)
    return tuple(out)


def query_args(operation: Operation, values: Mapping[str, object]) -> dict[str, object]:
    """The query parameters given (``None`` left out), checked and as text, by wire name."""
    out: dict[str, object] = {}
    for param in operation.params:
        if param.location != "query":
            continue
        value = values.get(param.name)
        if value is None:
            continue
        out[param.wire] = _arg(operation, param, value)
    return out


def _arg(operation: Operation, param: Param, value: object) -> str | list[str]:
    if param.array:
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(
            value, (list, tuple, set, frozenset)
        ):
            raise _wrong(operation, param, value, f"a list of {_expected(param)}")
        texts = [_scalar(operation, param, item) for item in value]
        return texts if param.explode else ",".join(texts)
    return _scalar(operation, param, value)


def _scalar(operation: Operation, param: Param, value: object) -> str:
    for kind in param.kind.split("|"):
        try:
            text = _as_text(kind, param, value)
        except ParameterError as error:  # a naive datetime
            raise _named(operation, error) from None
        if text is not None:
            return text
    raise _wrong(operation, param, value, _expected(param))


def _named(operation: Operation, error: ParameterError) -> ParameterError:
    """``error`` with the method's name in front."""
    return ParameterError(
        f"{operation.python_name}(): {error}",
        parameter=error.parameter,
        expected=error.expected,
        suggestions=error.suggestions,
    )


def _as_text(kind: str, param: Param, value: object) -> str | None:
    """``value`` as sent for a parameter of ``kind``; ``None`` when it is not one."""
    if kind == "bool":
        return ("true" if value else "false") if isinstance(value, bool) else None
    if isinstance(value, bool):
        return None  # a bool is an int in Python, never in the document
    if kind == "enum":
        if isinstance(value, enum.Enum):
            value = value.value
        if isinstance(value, (str, int)) and (not param.values or str(value) in param.values):
            return str(value)
        return None
    if kind == "str":
        return str(value) if isinstance(value, str) else None
    if kind == "int":
        return str(value) if isinstance(value, int) else None
    if kind == "float":
        return str(value) if isinstance(value, (int, float)) else None
    if kind == "datetime":
        return format_datetime(value, param.name) if isinstance(value, _dt.datetime) else None
    if kind == "date":
        if isinstance(value, _dt.datetime):
            return format_datetime(value, param.name)
        return format_date(value) if isinstance(value, _dt.date) else None
    return str(value) if isinstance(value, (str, int, float)) else None  # "any"


def _expected(param: Param) -> str:
    if param.kind == "enum" and param.values:
        return "one of " + ", ".join(repr(v) for v in param.values)
    names = {"datetime": "an aware datetime", "date": "a date (or an aware datetime)"}
    return " or ".join(names.get(kind, kind) for kind in param.kind.split("|"))


def _wrong(operation: Operation, param: Param, value: object, expected: str) -> ParameterError:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return ParameterError(
        f"{operation.python_name}(): {param.name} must be {expected}, "
        f"got {type(value).__name__} {text}",
        parameter=param.name,
        expected=expected,
    )


def body_json(
    operation: Operation,
    body: object,
    fields: Mapping[str, object],
    classes: tuple[type[Model], ...],
    validate: Callable[[Any], object] | None,
) -> object:
    """The JSON to send as the body, checked against the document before anything is sent.

    ``body`` is the model, a mapping (JSON or attribute names, nested mappings too), or
    ``None`` with the body's fields as keyword arguments in ``fields`` (by JSON name; unset
    ones are ``UNSET``). ``classes`` are the models the body may be, ``validate`` the decoder
    that checks it (a field of the wrong type, or a required one missing, is a
    :class:`ParameterError`).
    """
    given = {key: value for key, value in fields.items() if value is not UNSET}
    if body is not None and given:
        raise ParameterError(
            f"{operation.python_name}(): pass the body or its fields as keywords, not both "
            f"(got a body and {', '.join(sorted(given))})",
            parameter="body",
        )
    if body is None:
        if not given and operation.body is None:
            return None
        value: object = _input(operation, classes, given)
    elif isinstance(body, Model):
        value = body.to_dict()
    elif isinstance(body, Mapping):
        value = _input(operation, classes, body)
    elif not classes:
        value = body  # a body the document does not describe: sent as given
    else:
        names = " or ".join(cls.__name__ for cls in classes)
        raise ParameterError(
            f"{operation.python_name}(): the body must be {names} or a dict, "
            f"got {type(body).__name__}",
            parameter="body",
            expected=names,
        )
    try:
        wire = to_wire(value)
    except ParameterError as error:  # a naive datetime
        raise _named(operation, error) from None
    if validate is not None:
        try:
            validate(wire)
        except Mismatch as error:
            raise _body_error(operation, error) from None
    return wire


def _input(
    operation: Operation, classes: tuple[type[Model], ...], value: Mapping[str, object]
) -> dict[str, object]:
    if not classes:
        return dict(value)
    try:
        return input_json(classes, value, "")
    except ParameterError as error:
        raise _named(operation, error) from None


def _body_error(operation: Operation, error: Mismatch) -> ParameterError:
    where = error.where()
    top = error.path[0] if error.path else ""
    keyword = next(
        (p.name for p in operation.params if p.location == "body" and p.wire == top), None
    )
    named = f"{keyword} (body field {where!r})" if keyword else f"body field {where!r}"
    return ParameterError(
        f"{operation.python_name}(): {named}: expected {error.expected}, "
        f"got {describe(error.value)}",
        parameter=where,
        expected=error.expected,
    )
