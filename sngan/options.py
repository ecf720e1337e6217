"""Frozen option sets parsed from one YAML node each, with their defaults in YAML only.

Every registry entry (arch, norm, metric) and every config section the loop reads declares a frozen dataclass
whose fields carry no defaults; `parse(cls, node, prefix)` fills it from the composed config node: every field
must be present (conf/ holds the default), every value must have the field's type (a typo such as
`optim.lr=abc` is a one-line error naming the fix), and no key the class does not know may be there (so a
`+train.batch_size=0` that Hydra would accept is refused).
"""
from __future__ import annotations

import dataclasses
import difflib
import types
import typing

from .errors import ConfigError

_EXAMPLES = {int: "<integer>", float: "<number>", bool: "true", str: "<text>"}


def _allowed(annotation) -> tuple[tuple[type, ...], bool]:
    """(the plain types a field takes, whether null is allowed) from its annotation."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        plain = tuple(a for a in args if a is not type(None))
        return plain, len(plain) < len(args)
    return (annotation,), False


def _coerce(value, allowed: tuple[type, ...], nullable: bool, key: str):
    if value is None:
        if nullable:
            return None
        raise ConfigError(f"{key} must not be null: pass e.g. {key}={_EXAMPLES.get(allowed[0], '<value>')}")
    for kind in allowed:
        if kind is bool and isinstance(value, bool):
            return value
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if kind is str and isinstance(value, str):
            return value
        if kind is dict and isinstance(value, dict):
            return value
    names = " or ".join({int: "a whole number", float: "a number", bool: "true or false", str: "a text"}.get(k, k.__name__)
                        for k in allowed) + (" or null" if nullable else "")
    raise ConfigError(f"{key} must be {names}, got {value!r}: pass e.g. {key}={_EXAMPLES.get(allowed[0], '<value>')}")


def known_keys(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def parse(cls, node, prefix: str, ignore: tuple[str, ...] = ("name",)):
    """An instance of the frozen dataclass `cls` from the config node at `prefix` (for messages)."""
    from omegaconf import DictConfig
    from omegaconf.errors import MissingMandatoryValue

    hints = typing.get_type_hints(cls)
    name_of = (lambda key: f"{prefix}.{key}") if prefix else (lambda key: key)  # top-level keys: no prefix
    data = {}
    keys = list(node.keys()) if node is not None else []
    for key in keys:
        try:
            data[key] = node[key]
        except MissingMandatoryValue:  # `???` in YAML: a value the user must give; null until then
            data[key] = None
        if isinstance(data[key], DictConfig):
            data[key] = dict(data[key])
    unknown = sorted(set(data) - known_keys(cls) - set(ignore))
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, sorted(known_keys(cls)), n=1)
        hint = (f"did you mean {name_of(close[0])}?" if close
                else f"the keys of {prefix or 'this command'} are {', '.join(sorted(known_keys(cls)))}")
        raise ConfigError(f"unknown key {name_of(key)}: {hint}")
    values = {}
    for field in dataclasses.fields(cls):
        if field.name not in data:
            raise ConfigError(f"{name_of(field.name)} is missing from the config (conf/ defines every key): "
                              f"reinstall sngan or restore the config file")
        allowed, nullable = _allowed(hints[field.name])
        values[field.name] = _coerce(data[field.name], allowed, nullable, name_of(field.name))
    return cls(**values)
