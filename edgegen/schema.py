"""Typed loading of plain data (YAML/JSON mappings) into frozen dataclasses.

Device profiles, price tables and model cards are data, not code. This module checks such a
mapping against a dataclass's type hints and collects *every* problem (unknown key, missing key,
wrong type, bad enum value) with its dotted key path, so one error can name them all together.
Pure: no I/O, no heavy imports.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from dataclasses import dataclass
from typing import Any, get_args, get_origin, get_type_hints

_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


@dataclass(frozen=True)
class SchemaIssue:
    key: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.key or '<top>'}: {self.problem} ({self.fix})"


class SchemaViolation(Exception):
    def __init__(self, issues: list[SchemaIssue]) -> None:
        super().__init__("; ".join(str(i) for i in issues))
        self.issues = issues


def _describe(tp: Any) -> str:
    if tp in _TYPE_NAMES:
        return _TYPE_NAMES[tp]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(repr(m.value) for m in tp)
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    origin = get_origin(tp)
    if origin in (tuple, list):
        return f"a list of {_describe(get_args(tp)[0])}"
    if origin is dict:
        return "a mapping"
    return getattr(tp, "__name__", str(tp))


def _convert(tp: Any, value: Any, key: str, issues: list[SchemaIssue]) -> Any:
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _convert(members[0], value, key, issues)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key, issues)
    if origin in (tuple, list):
        item_tp = get_args(tp)[0]
        if not isinstance(value, list | tuple):
            issues.append(SchemaIssue(key, f"expected a list, got {value!r}", f"write {key} as a YAML list"))
            return origin()
        return origin(_convert(item_tp, v, f"{key}[{i}]", issues) for i, v in enumerate(value))
    if origin is dict:
        key_tp, val_tp = get_args(tp)
        if not isinstance(value, dict):
            issues.append(SchemaIssue(key, f"expected a mapping, got {value!r}", f"write {key} as a YAML mapping"))
            return {}
        return {
            _convert(key_tp, k, f"{key}.{k}", issues): _convert(val_tp, v, f"{key}.{k}", issues)
            for k, v in value.items()
        }
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            issues.append(SchemaIssue(key, f"{value!r} is not allowed", f"use {_describe(tp)}"))
            return None
    if tp is Any:
        return value
    ok = (
        isinstance(value, bool)
        if tp is bool
        else isinstance(value, int | float) and not isinstance(value, bool)
        if tp is float
        else isinstance(value, tp) and not (tp is int and isinstance(value, bool))
    )
    if not ok:
        issues.append(SchemaIssue(key, f"expected {_describe(tp)}, got {value!r}", f"set {key} to {_describe(tp)}"))
        return value
    return float(value) if tp is float else value


def _build(cls: type, data: Any, prefix: str, issues: list[SchemaIssue]) -> Any:
    if not isinstance(data, dict):
        issues.append(
            SchemaIssue(
                prefix, f"expected a mapping, got {data!r}", f"write {prefix or 'the file'} as key: value pairs"
            )
        )
        return None
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    before = len(issues)
    for name in data:
        if name not in fields:
            known = ", ".join(fields)
            issues.append(SchemaIssue(_join(prefix, str(name)), "unknown key", f"remove it or use one of: {known}"))
    for name, field in fields.items():
        key = _join(prefix, name)
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], key, issues)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            issues.append(SchemaIssue(key, "missing", f"add {key}: {_describe(hints[name])}"))
    if len(issues) > before:
        return None
    try:
        return cls(**kwargs)
    except RuleError as exc:
        issues.append(SchemaIssue(_join(prefix, exc.field), exc.problem, exc.fix))
        return None


class RuleError(ValueError):
    """Raised by a dataclass's __post_init__ when a cross-field or range rule fails."""

    def __init__(self, field: str, problem: str, fix: str) -> None:
        super().__init__(f"{field}: {problem} ({fix})")
        self.field, self.problem, self.fix = field, problem, fix


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def load_dataclass(cls: type, data: Any) -> Any:
    """Build `cls` from `data`, raising SchemaViolation listing every problem found."""
    issues: list[SchemaIssue] = []
    obj = _build(cls, data, "", issues)
    if issues:
        raise SchemaViolation(issues)
    return obj


def to_plain(obj: Any) -> Any:
    """Dataclasses/enums/tuples/paths → JSON-ready dicts, lists and scalars."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, dict):
        return {str(to_plain(k)): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_plain(v) for v in obj]
    if hasattr(obj, "__fspath__"):
        return str(obj)
    return obj
