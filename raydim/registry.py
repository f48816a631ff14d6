"""Registries by name, loaded on use: the CLI lists methods and strategies without importing their code.

A registry is a plain dict from a name to ``"module:attribute"``. Looking a name up
costs nothing; only :func:`load` imports the module, so ``raydim --help`` (which
needs the names for its choices) never loads torch, scipy or optuna through one.
"""

from __future__ import annotations

import importlib
from typing import Any

from raydim.errors import RaydimError


def load(registry: dict[str, str], name: str, kind: str) -> Any:
    """The object registered as ``name``; an unknown name is a :class:`RaydimError` listing the known ones."""
    if name not in registry:
        raise RaydimError(f"unknown {kind} {name!r}; known {kind}s: {', '.join(registry)}")
    module, attribute = registry[name].split(":")
    return getattr(importlib.import_module(module), attribute)
