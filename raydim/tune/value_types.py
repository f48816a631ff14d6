"""Search-space values checked against the types of the dataclass fields they fill, each error naming its key.

A YAML value of the wrong type (``max_trials: three``, ``batch_size: "16"``)
would otherwise reach a comparison in some ``__post_init__`` and fail with
Python's ``TypeError``, which names neither the key nor what it should be. The
expected type is read from the annotations of the dataclass the section fills
(:class:`~raydim.train.TrainConfig`, :class:`~raydim.search.SearchSettings`,
:class:`~raydim.data.spec.DataSpec`, the spec itself), so it never drifts from
the code, and checked by pydantic in strict mode: no string becomes a number or
a boolean, no number a boolean; an integer is a number. YAML lists stand for
the tuples the dataclasses hold.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError

# singular and plural of each plain type, for "expected an integer", "expected a list of numbers"
_NOUNS = {int: ("an integer", "integers"), float: ("a number", "numbers"), bool: ("true or false", "booleans"),
          str: ("a string", "strings"), type(None): ("null", "nulls")}


def type_errors(section: str | None, values: Mapping[str, Any], cls: type) -> dict[str, str]:
    """Per key of ``values`` that is a field of ``cls`` and holds a value of another type, the error naming
    ``section.key``, the expected type and the value. Keys that are not fields are left to the caller."""
    hints = _hints(cls)
    errors = {}
    for key, value in values.items():
        if key in hints and not _fits(hints[key], _tuples(value)):
            where = f"{section}.{key}" if section else key
            errors[key] = f"{where} must be {describe(hints[key])}, got {value!r}"
    return errors


def describe(hint: Any) -> str:
    """A type annotation in words: ``int | None`` → "an integer or null"."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(describe(a) for a in args)
    if origin is tuple:
        return f"a list of {_NOUNS.get(args[0], (None, str(args[0])))[1]}"
    if origin is dict:
        return f"a mapping of {_NOUNS.get(args[0], (None, 'keys'))[1]} to {_NOUNS.get(args[1], (None, 'values'))[1]}"
    if hint is Any:
        return "any value"
    return _NOUNS.get(hint, (getattr(hint, "__name__", str(hint)),))[0]


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


@functools.cache
def _adapter(hint: Any) -> TypeAdapter:
    return TypeAdapter(hint, config=ConfigDict(strict=True))


def _fits(hint: Any, value: Any) -> bool:
    try:
        _adapter(hint).validate_python(value)
    except ValidationError:
        return False
    return True


def _tuples(value: Any) -> Any:
    """YAML's lists as the tuples the dataclasses hold (strict mode takes no list for a tuple)."""
    if isinstance(value, list | tuple):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value
