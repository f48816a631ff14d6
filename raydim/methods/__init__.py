"""The fine-tuning methods, one module each, in one plain registry: ``full`` (the baseline), ``did``, ``said``.

A method module holds what defines the method and nothing else: the settings it
takes (a frozen dataclass, validated at construction), a ``build`` that wraps a
loaded model so the training loop knows what to optimise, and one
:class:`~raydim.methods.base.Method` naming both. The loop, the search and the
results store are the same for every method. Adding one, e.g. LoRA adapters
trained inside a random subspace (SubLoRA, Lotfi et al. 2023), is a new file
``raydim/methods/sublora.py`` ending in ``SUBLORA = Method("sublora", ...)`` and
one line below; the contract tests (``tests/methods/test_contract.py``) then run
it through the checks every method passes (docs/architecture.md).

This module imports no method: the CLI reads the names for its choices without
loading torch, and :func:`get_method` imports the one asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from raydim.registry import load

if TYPE_CHECKING:
    from raydim.methods.base import Method

METHODS: dict[str, str] = {
    "full": "raydim.methods.full:FULL",
    "did": "raydim.methods.did:DID",
    "said": "raydim.methods.said:SAID",
}


def get_method(name: str) -> Method:
    """The registered method ``name`` (its module imported now); an unknown name lists the known ones."""
    return load(METHODS, name, "method")
