"""Pre-training checkpoints by name: the step a name states, and the revisions a hub model has.

d90 along a pre-training run needs each checkpoint's step, and the step is only
known when the name follows a convention of the ladders people publish:

* ``step143000`` — EleutherAI Pythia's hub revisions;
* ``step1000-tokens4B`` — OLMo's branches (step, then tokens seen);
* ``step_20k`` — MultiBERTs (``google/multiberts-seed_0-step_20k``), in thousands;
* ``checkpoint-500`` — the folders ``transformers.Trainer`` saves.

Anything else (``main``, ``v1.0``, a commit hash) has no known step: a number
guessed from stray digits would put ``v1.0`` at step 0, beside random-init.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import huggingface_hub

RANDOM_INIT = "random-init"
# a known pattern, as the whole name or after a '-', '_' or '/' (``multiberts-seed_0-step_20k``)
_STEP_NAMES = re.compile(
    r"(?:^|[-_/])(?:step(?P<step>\d+)(?:-tokens\d+(?:\.\d+)?[KMBT]?)?|step_(?P<thousands>\d+)k"
    r"|checkpoint-(?P<trainer>\d+))$")


def checkpoint_step(checkpoint: str) -> int | None:
    """The pre-training step a checkpoint name states (``random-init`` is step 0), else None."""
    if checkpoint == RANDOM_INIT:
        return 0
    match = _STEP_NAMES.search(checkpoint)
    if match is None:
        return None
    if match["thousands"] is not None:
        return int(match["thousands"]) * 1000
    return int(match["step"] if match["step"] is not None else match["trainer"])


def by_step(names: Iterable[str]) -> list[str]:
    """Names in pre-training order: known steps ascending, then the rest by name."""
    return sorted(names, key=lambda n: (checkpoint_step(n) is None, checkpoint_step(n) or 0, n))


def few(names: list[str], head: int = 4, tail: int = 2) -> str:
    """``a, b, c, d, ..., y, z (40 in all)``: enough names to pick from without a wall of text."""
    if len(names) <= head + tail:
        return ", ".join(names)
    return f"{', '.join(names[:head])}, ..., {', '.join(names[-tail:])} ({len(names)} in all)"


def hub_revisions(repo_id: str) -> tuple[list[str], bool]:
    """(the revisions of a hub model, ordered by step; whether they come from the hub rather than the cache).

    Online, the repository's branches and tags; offline, or when the hub cannot be
    reached, the revisions the local cache holds. Empty when neither knows the repo.
    """
    if not huggingface_hub.is_offline_mode():
        try:
            refs = huggingface_hub.list_repo_refs(repo_id)
            return by_step(r.name for r in (*refs.branches, *refs.tags)), True
        except Exception:  # noqa: BLE001 - any failure to ask only means: fall back to the cache
            pass
    folder = Path(huggingface_hub.constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}" / "refs"
    cached = [p.name for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
    return by_step(cached), False
