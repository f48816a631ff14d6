"""The shape of a search-space file, declared as pydantic models: which keys exist at every level, of what type,
in what range. :func:`space_errors` checks a YAML-shaped dict against it and says every problem at once, each
naming its key (``search.max_trials must be an integer, got 'three'``, ``resources.cpus_per_trial=0 must be
> 0 (fractions allowed)``, ``unknown train setting(s) ['lr']; known: ...``).

The ``data``, ``train`` and ``search`` sections are built from the dataclasses they fill
(:class:`~raydim.data.spec.DataSpec`, :class:`~raydim.train.TrainConfig`,
:class:`~raydim.search.SearchSettings`), so their keys and types never drift from the code; what a value may
be beyond its type (a task that exists, ``d_max`` above ``d_min``) those classes check when they are built,
as they do when Python builds them. Types are strict: no string becomes a number or a boolean, no number a
boolean; an integer is a number. YAML lists stand for the tuples the dataclasses hold. Only ``raydim search``
loads this module (through :mod:`raydim.tune.spec`), so no other command imports pydantic.
"""

from __future__ import annotations

import types
import typing
from dataclasses import fields
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from raydim.data.spec import DataSpec
from raydim.search.settings import SearchSettings
from raydim.train.config import TrainConfig
from raydim.tune.template import PER_TRIAL

_STRICT = ConfigDict(strict=True, extra="forbid")
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
# singular and plural of each plain type, for "expected an integer", "expected a list of numbers"
_NOUNS = {int: ("an integer", "integers"), float: ("a number", "numbers"), bool: ("true or false", "booleans"),
          str: ("a string", "strings"), type(None): ("null", "nulls")}
# a value of the right type that breaks a field's constraint: the field's description says the rule to the user
_RULES = ("greater_than", "greater_than_equal", "less_than", "less_than_equal", "string_pattern_mismatch")


def _section(cls: type, leave_out: tuple[str, ...] = ()) -> type[BaseModel]:
    """A model whose fields are ``cls``'s dataclass fields (minus ``leave_out``), with their annotated types.
    Every field may be left out: ``cls`` fills in its own defaults when it is built."""
    hints = typing.get_type_hints(cls)
    return create_model(f"{cls.__name__}Section", __config__=_STRICT,
                        **{f.name: (hints[f.name], None) for f in fields(cls) if f.name not in leave_out})


DataSection = _section(DataSpec, leave_out=("task",))  # the task is each key's own
TrainSection = _section(TrainConfig, leave_out=PER_TRIAL)  # d, lr, seed, ... are chosen per trial
SearchSection = _section(SearchSettings)
Names = Annotated[tuple[str, ...], Field(min_length=1)]


class Resources(BaseModel):
    """What each trial gets, and how many run and retry."""

    model_config = _STRICT
    cpus_per_trial: float = Field(1.0, gt=0, description="must be > 0 (fractions allowed)")
    gpus_per_trial: float = Field(0.0, ge=0, description="must be >= 0 (0.5 packs two trials per GPU)")
    max_concurrent: int | None = Field(None, ge=1, description="must be a positive integer, or left out")
    max_failures: int = Field(1, ge=0, description="must be an integer >= 0 (restarts from the last checkpoint)")


class SearchSpace(BaseModel):
    """A whole search-space file (``search_spaces/*.yaml``); :class:`~raydim.tune.spec.SearchSpec` holds it."""

    model_config = _STRICT
    tasks: Names = ("mrpc",)
    models: Names = ("minilm-l6",)
    checkpoints: Names = ("final",)
    methods: Names = ("said",)
    data: DataSection = Field(default_factory=DataSection)
    train: TrainSection = Field(default_factory=TrainSection)
    search: SearchSection = Field(default_factory=SearchSection)
    baselines: dict[str, float] = {}
    resources: Resources = Resources()
    name: str = Field("raydim-search", pattern=NAME_PATTERN,
                      description="must use letters, digits, '.', '_' and '-' (it names a folder)")
    storage: str | None = None


def known(*section: str) -> tuple[str, ...]:
    """The keys the file may hold at ``section`` (top level: none given)."""
    model: type[BaseModel] = SearchSpace
    for name in section:
        model = model.model_fields[name].annotation
    return tuple(model.model_fields)


def space_errors(values: dict[str, Any]) -> tuple[list[str], set[tuple[str, ...]]]:
    """Every problem of ``values`` (a YAML-shaped dict), each naming its key, and the keys that have one:
    ``("train", "epochs")`` for a setting, ``("tasks",)`` for a top-level entry or a whole section."""
    try:
        SearchSpace.model_validate(_tuples(values))
    except ValidationError as e:
        problems = e.errors()
    else:
        return [], set()
    messages: dict[str, None] = {}  # one message per key, in the file's order
    unknown: dict[tuple[str, ...], list[str]] = {}
    bad = set()
    for problem in problems:
        loc = tuple(str(part) for part in problem["loc"])
        key = loc[:2] if loc[0] in ("data", "train", "search", "resources", "baselines") else loc[:1]
        if problem["type"] == "extra_forbidden":
            unknown.setdefault(key[:-1], []).append(key[-1])
        else:
            messages[_message(key, _at(values, key), problem)] = None
        bad.add(key)
    for section, keys in sorted(unknown.items()):  # the top level first
        where = section[0] if section else "top level"
        messages[f"unknown {where} setting(s) {sorted(keys)}; known: {', '.join(known(*section))}"] = None
    return list(messages), bad


def _message(key: tuple[str, ...], value: Any, problem: dict[str, Any]) -> str:
    """One problem in words: a wrong type names the type the key takes, a value out of range the range."""
    where = ".".join(key)
    if key[0] == "baselines" and len(key) == 2:
        return f"baselines[{key[1]!r}] = {value!r} must be a number (the full fine-tune's metric)"
    if problem["type"] == "too_short":
        return f"{where} is empty; give at least one"
    field = _field(key)
    if problem["type"] in _RULES:
        return f"{where}={value!r} {field.description}"
    return f"{where} must be {describe(field.annotation)}, got {value!r}"


def _field(key: tuple[str, ...]):
    """The pydantic field at ``key`` (a section's setting, or a top-level entry)."""
    model: type[BaseModel] = SearchSpace
    for name in key[:-1]:
        model = model.model_fields[name].annotation
    return model.model_fields[key[-1]]


def describe(hint: Any) -> str:
    """A type annotation in words: ``int | None`` → "an integer or null"."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        return describe(args[0])
    if origin in (types.UnionType, typing.Union):
        return " or ".join(describe(a) for a in args)
    if origin is tuple:
        return f"a list of {_NOUNS.get(args[0], (None, str(args[0])))[1]}"
    if origin is dict:
        return f"a mapping of {_NOUNS.get(args[0], (None, 'keys'))[1]} to {_NOUNS.get(args[1], (None, 'values'))[1]}"
    if hint is Any:
        return "any value"
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return f"a mapping of {', '.join(hint.model_fields)}"
    return _NOUNS.get(hint, (getattr(hint, "__name__", str(hint)),))[0]


def _at(values: dict[str, Any], key: tuple[str, ...]) -> Any:
    for name in key:
        values = values[name]
    return values


def _tuples(value: Any) -> Any:
    """YAML's lists as the tuples the dataclasses hold (strict mode takes no list for a tuple)."""
    if isinstance(value, list | tuple):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value
