"""Typed records: keyword-only frozen dataclasses built from mappings, with validation.

The vendor's server describes its configuration and its KServe v2 messages with pydantic
models. This module gives the same user-visible behaviour with plain dataclasses:

* construction by keyword (``ModelConfig(name="mnist", model="m.onnx")``) or from a mapping
  (``ModelConfig.parse_obj(d)``, also spelt ``model_validate``), nested records built from
  nested mappings;
* values checked against the field types, lax where pydantic is lax (``"8080"`` for an ``int``,
  ``"true"`` for a ``bool``) and strict where it is strict (a YAML integer for a ``str`` field is
  refused); every problem is collected into one :class:`ValidationError` whose entries give the
  location (``model_config_list -> 0 -> version``) and what was wrong;
* unknown keys refused (configuration) or ignored (protocol messages), per record class;
* for configuration records (``env=True``), a field the caller did not give is read from the
  environment variable of the same name, in any letter case, as the vendor's
  ``pydantic_settings.BaseSettings`` does (spec/toolchain-api.md §11.1, §13 item 11). Values of
  list, mapping and record fields are parsed as JSON. Each use is logged as a warning, so a
  stray variable (``VERSION``, ``PORT``...) that changes a configuration is visible.

Reading the environment here, outside ``furiosa.common.settings``, is deliberate: it is part of
the vendor's API for these classes, not a setting of the SDK.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import types
import typing
from typing import Any, Callable, ClassVar, Mapping, TypeVar

from furiosa.common.errors import FuriosaError

log = logging.getLogger("furiosa.server")

Location = tuple[Any, ...]
R = TypeVar("R", bound="Record")

_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}


class ValidationError(FuriosaError, ValueError):
    """A record could not be built: one or more values are missing or of the wrong type.

    ``errors`` lists ``(location, message)`` pairs; ``str()`` gives one line per problem.
    """

    def __init__(self, title: str, errors: list[tuple[Location, str]]) -> None:
        self.title = title
        self.errors = list(errors)
        count = len(self.errors)
        lines = [f"{count} validation error{'s' if count != 1 else ''} for {title}"]
        lines += [f"{format_location(loc)}: {message}" if loc else message for loc, message in self.errors]
        super().__init__("\n".join(lines))

    def prefixed(self, *prefix: Any) -> "ValidationError":
        """The same errors with ``prefix`` in front of every location."""
        return ValidationError(self.title, [(tuple(prefix) + loc, message) for loc, message in self.errors])


def format_location(loc: Location) -> str:
    """``("model_config_list", 0, "version")`` → ``"model_config_list -> 0 -> version"``."""
    return " -> ".join(str(part) for part in loc)


class _Problems(Exception):
    """Collected errors while converting one value (internal)."""

    def __init__(self, errors: list[tuple[Location, str]]) -> None:
        super().__init__(errors)
        self.errors = errors


@dataclasses.dataclass(frozen=True)
class Record:
    """Base of the typed records (see the module docstring).

    Subclasses are declared with :func:`record`. Class options: ``_env`` (fill missing fields
    from the environment) and ``_extra`` (``"forbid"`` or ``"ignore"`` unknown keys).
    """

    _env: ClassVar[bool] = False
    _extra: ClassVar[str] = "forbid"

    @classmethod
    def parse_obj(cls: type[R], data: Any) -> R:
        """The record built from a mapping (``ValidationError`` when it does not fit)."""
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping):
            raise ValidationError(cls.__name__, [((), f"expected a mapping of fields, got {_kind(data)}")])
        return cls(**{str(k): v for k, v in data.items()})

    model_validate = parse_obj

    def dict(self) -> dict[str, Any]:
        """The record as plain Python data (nested records as dicts; bytes kept as bytes)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    model_dump = dict


def record(env: bool = False, extra: str = "forbid") -> Callable[[type[R]], type[R]]:
    """Declare a record class: a frozen keyword-only dataclass with validating construction."""

    def decorate(cls: type[R]) -> type[R]:
        cls = dataclasses.dataclass(frozen=True, kw_only=True)(cls)
        cls._env = env
        cls._extra = extra
        generated = cls.__init__

        def __init__(self: Any, **values: Any) -> None:
            generated(self, **_validate(type(self), values))

        __init__.__doc__ = cls.__doc__
        __init__.__qualname__ = f"{cls.__qualname__}.__init__"
        cls.__init__ = __init__  # type: ignore[method-assign]
        return cls

    return decorate


def _hints(cls: type) -> dict[str, Any]:
    cached = cls.__dict__.get("_hints_cache")
    if cached is None:
        cached = typing.get_type_hints(cls)
        setattr(cls, "_hints_cache", cached)
    return cached


def _validate(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = _hints(cls)
    errors: list[tuple[Location, str]] = []
    unknown = [key for key in values if key not in fields]
    if unknown and cls._extra == "forbid":
        for key in unknown:
            errors.append(((key,), _unknown_key_message(key, list(fields))))
    out: dict[str, Any] = {}
    environment = _environment() if cls._env else {}
    for name, field in fields.items():
        source = None
        if name in values:
            value = values[name]
        elif name.lower() in environment:
            variable, raw = environment[name.lower()]
            source = variable
            try:
                value = _from_environment(raw, hints[name])
            except ValueError as error:
                errors.append(((name,), f"environment variable {variable}={raw!r} is not valid: {error}"))
                continue
            log.warning("%s.%s is taken from the environment variable %s=%r (these settings read "
                        "same-named environment variables, as the vendor's do)", cls.__name__, name, variable, raw)
        elif field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING:
            continue
        else:
            errors.append(((name,), "field required"))
            continue
        try:
            out[name] = convert(value, hints[name])
        except _Problems as problems:
            suffix = f" (from the environment variable {source})" if source else ""
            errors.extend(((name,) + loc, message + suffix) for loc, message in problems.errors)
    if errors:
        raise ValidationError(cls.__name__, errors)
    return out


def _unknown_key_message(key: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known fields: {', '.join(known)}"
    return f"extra fields are not permitted{hint}"


def _environment() -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for variable, value in os.environ.items():
        found.setdefault(variable.lower(), (variable, value))
    return found


def _from_environment(raw: str, hint: Any) -> Any:
    """An environment string as the value for a field of type ``hint``."""
    options = _options(hint)
    if any(_is_structured(option) for option in options):
        try:
            return json.loads(raw)
        except json.JSONDecodeError as error:
            raise ValueError(f"expected JSON ({error})") from None
    return raw


def _is_structured(hint: Any) -> bool:
    origin = typing.get_origin(hint) or hint
    return origin in (list, dict) or (isinstance(origin, type) and issubclass(origin, Record))


def _options(hint: Any) -> list[Any]:
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return list(typing.get_args(hint))
    return [hint]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (bytes, bytearray)):
        return "bytes"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"


def convert(value: Any, hint: Any) -> Any:
    """``value`` checked and converted to the type ``hint`` (raises ``_Problems``)."""
    options = _options(hint)
    if len(options) > 1:
        if value is None and type(None) in options:
            return None
        problems: list[tuple[Location, str]] = []
        candidates = [o for o in options if o is not type(None)]
        for option in candidates:
            try:
                return convert(value, option)
            except _Problems as error:
                problems.extend(error.errors)
        if len(candidates) == 1:
            raise _Problems(problems)
        names = " or ".join(_type_name(o) for o in candidates)
        raise _Problems([((), f"expected {names}, got {_kind(value)}")])
    return _convert_one(value, hint)


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint) or hint
    return {str: "a string", bytes: "bytes", int: "an integer", float: "a number", bool: "a boolean",
            list: "a list", dict: "a mapping"}.get(origin, getattr(origin, "__name__", str(origin)))


def _convert_one(value: Any, hint: Any) -> Any:
    if hint is Any:
        return value
    origin = typing.get_origin(hint)
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        if not isinstance(value, (list, tuple)):
            raise _Problems([((), f"expected a list, got {_kind(value)}")])
        out, problems = [], []
        for index, element in enumerate(value):
            try:
                out.append(convert(element, item))
            except _Problems as error:
                problems.extend(((index,) + loc, message) for loc, message in error.errors)
        if problems:
            raise _Problems(problems)
        return out
    if origin is dict or hint is dict:
        if not isinstance(value, Mapping):
            raise _Problems([((), f"expected a mapping, got {_kind(value)}")])
        return dict(value)
    if isinstance(hint, type) and issubclass(hint, Record):
        if isinstance(value, hint):
            return value
        try:
            return hint.parse_obj(value)
        except ValidationError as error:
            raise _Problems(error.errors) from None
    if hint is str:
        if isinstance(value, str):
            return value
        raise _Problems([((), f"expected a string, got {_kind(value)}" + _quote_hint(value))])
    if hint is bytes:
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        raise _Problems([((), f"expected bytes, got {_kind(value)}")])
    if hint is bool:
        return _to_bool(value)
    if hint is int:
        return _to_int(value)
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise _Problems([((), f"expected a number, got {_kind(value)}")])
    raise TypeError(f"unsupported field type {hint!r}")  # a programming error, not user input


def _quote_hint(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f" ({value!r}); quote it in YAML: \"{value}\""
    return ""


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _Problems([((), f"expected a boolean, got {_kind(value)} ({value!r})")])


def _to_int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise _Problems([((), f"expected an integer, got {_kind(value)} ({value!r})")])


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.dict()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
