"""How the useful subspace learning rate moves with d: lr ∝ d^(−1/2).

With Adam every coordinate of θ_d moves by about lr per step, so one step moves
θ_d by about lr·√d and, under global normalisation (P·θ_d has the norm of θ_d),
the model's weights by as much. Keeping the weights' step the same at every d
therefore needs lr ∝ 1/√d. On MRPC with MiniLM-L6 the measured best rates follow
this from d = 3·10² to 3·10⁴ (docs/subspace.md); at 10⁵ the useful rate falls
faster. Both ``raydim train``'s default rate and the search's first guess at a
new d use it.
"""

from __future__ import annotations

REFERENCE_D = 10_000  # subspace learning rates given without a d are meant at this d
EXPONENT = 0.5


def rescale_lr(lr: float, from_d: float, to_d: float, exponent: float = EXPONENT) -> float:
    """The rate at ``to_d`` that moves the weights as far per step as ``lr`` does at ``from_d``."""
    return lr * (from_d / to_d) ** exponent
