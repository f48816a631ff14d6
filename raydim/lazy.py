"""Public names of a package imported on first use (PEP 562), so ``import raydim`` and ``raydim --help`` stay fast.

The package's public API is spread over modules that import torch, transformers,
datasets or Ray, each taking seconds on a small CPU. A package ``__init__`` that
imported them all would make every command pay for every other command's
libraries; instead it names where each public name lives, and the name's module
is imported the first time the name is looked up (then cached in the package).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_names(package: str, where: dict[str, tuple[str, ...]]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose public names are ``where``'s: module → its names."""
    module_of = {name: module for module, names in where.items() for name in names}

    def __getattr__(name: str) -> Any:  # noqa: N807 - the PEP 562 hook
        if name not in module_of:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_of[name]), name)
        setattr(sys.modules[package], name, value)  # later lookups are plain attribute reads
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return sorted({*vars(sys.modules[package]), *module_of})

    return __getattr__, __dir__


def public_names(where: dict[str, tuple[str, ...]]) -> list[str]:
    """Every name of ``where``, sorted: a lazy package's ``__all__``."""
    return sorted(name for names in where.values() for name in names)
