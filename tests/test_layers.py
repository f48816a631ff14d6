"""The layers of docs/architecture.md, enforced: each package imports only the layers below it.

Every ``import`` in a module counts, the ones inside functions too (a lazy import
still makes the layer depend on the one it reaches). Ray may be imported only by
the tune layer and the CLI, so the search policy, the store and the analyses run
and test without it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import raydim

PACKAGE = Path(raydim.__file__).parent
# Shared leaves every layer may use: errors, atomic writes, tables, the lazy registries and public names,
# the lr rule.
LEAVES = {"errors", "atomic", "table", "registry", "strategies", "subspace_lr", "lazy"}
PART_OF = {"writable": "cli"}  # top-level modules that belong to a layer: the CLI's checks of paths it will write
# Each layer and the layers it may import (besides itself and the leaves), top to bottom.
MAY_IMPORT = {
    "cli": {"tune", "analysis", "store", "search", "train", "methods", "data", "models", "subspace"},
    "tune": {"store", "search", "train", "methods", "data", "models", "subspace"},
    "analysis": {"store", "search", "models"},
    "store": {"search", "models"},
    "search": set(),
    "train": {"methods", "data", "models", "subspace"},
    "methods": {"subspace"},
    "data": set(),
    "models": set(),
    "subspace": set(),
}
USES_RAY = {"cli", "tune"}



def _layer(module: str) -> str | None:
    """``raydim.store.d90`` → ``store``; None for a module outside raydim's layers (raydim itself included)."""
    parts = module.split(".")
    return PART_OF.get(parts[1], parts[1]) if parts[0] == "raydim" and len(parts) > 1 else None


def _imports(path: Path) -> list[str]:
    """Every module ``path`` imports at run time, at any depth; imports under ``if TYPE_CHECKING:`` only name
    types for annotations, and are left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
                   for stmt in block.body for n in ast.walk(stmt)}
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
    return found


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] != "__init__.py")


def _own_layer(path: Path) -> str:
    name = path.relative_to(PACKAGE).with_suffix("").parts[0]
    return PART_OF.get(name, name)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_imports_only_the_layers_below_it(path: Path) -> None:
    own = _own_layer(path)
    if own in LEAVES:
        allowed = LEAVES
    else:
        allowed = {own, *LEAVES, *MAY_IMPORT[own]}
    where = path.relative_to(PACKAGE).as_posix()
    wrong = sorted({layer for m in _imports(path) if (layer := _layer(m)) and layer not in allowed})
    assert not wrong, f"raydim/{where} ({own}) imports {wrong}; see docs/architecture.md for what goes where"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_tune_layer_and_the_cli_import_ray(path: Path) -> None:
    if _own_layer(path) not in USES_RAY:
        assert not [m for m in _imports(path) if m == "ray" or m.startswith("ray.")]


def test_every_layer_is_placed() -> None:
    """A new package gets a line in MAY_IMPORT (and docs/architecture.md) before it can be imported anywhere."""
    layers = {_own_layer(p) for p in _modules()}
    assert layers <= set(MAY_IMPORT) | LEAVES, sorted(layers - set(MAY_IMPORT) - LEAVES)
