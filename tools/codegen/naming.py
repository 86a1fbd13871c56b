"""Identifier helpers: snake_case, PascalCase, safe Python names, enum member names."""

from __future__ import annotations

import builtins
import keyword
import re

_BUILTIN_NAMES = frozenset(dir(builtins))


def snake(name: str) -> str:
    """``bookingUid`` → ``booking_uid``, ``OOO`` → ``ooo``, ``event-types`` → ``event_types``."""
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"[^0-9A-Za-z]+", "_", text)
    return text.strip("_").lower()


def pascal(name: str) -> str:
    """``booking_uid`` / ``bookingUid`` / ``event-types`` → ``BookingUid`` / ``EventTypes``."""
    return "".join(part[:1].upper() + part[1:] for part in snake(name).split("_") if part)


def safe_name(name: str) -> str:
    """A Python identifier: keywords get a trailing underscore; a leading digit a prefix."""
    if not name:
        return "value"
    if name[0].isdigit():
        name = "n_" + name
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        name += "_"
    return name


def safe_param(name: str) -> str:
    """A parameter name: like :func:`safe_name`, and builtins get a trailing underscore too."""
    name = safe_name(name)
    return name + "_" if name in _BUILTIN_NAMES else name


def enum_member(value: str | int) -> str:
    """``google_calendar`` → ``GOOGLE_CALENDAR``, ``pt-BR`` → ``PT_BR``, ``12`` → ``V12``."""
    if isinstance(value, int):
        return f"V{value}"
    text = snake(value).upper() or "EMPTY"
    if text[0].isdigit():
        text = "V" + text
    return text


def singular(word: str) -> str:
    """English singular of the last word of a snake_case phrase (good enough for paths)."""
    head, _, last = word.rpartition("_")
    if last.endswith("ies"):
        last = last[:-3] + "y"
    elif last.endswith(("sses", "ches", "shes", "xes")):
        last = last[:-2]
    elif last.endswith("s") and not last.endswith("ss"):
        last = last[:-1]
    return f"{head}_{last}" if head else last
