"""What is searched: one d90 per (task, model, checkpoint, method) key.

Every key is searched concurrently and independently, except that the keys of one
(task, model, checkpoint) share their full fine-tune baseline: DID and SAID on
the same model are measured against the same θ₀ fine-tuned in full.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from raydim.errors import RaydimError

FULL = "full"  # the method name of a full fine-tune: the baseline every subspace method is measured against


@dataclass(frozen=True, order=True)
class SearchKey:
    """One d90 to measure. ``checkpoint`` follows ``ModelRef.checkpoint``: ``final``, a revision, ``random-init``."""

    task: str
    model: str
    checkpoint: str = "final"
    method: str = "did"

    def __post_init__(self) -> None:
        for name in ("task", "model", "checkpoint", "method"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise RaydimError(f"SearchKey.{name} must be a non-empty string, got {value!r}")

    @property
    def id(self) -> str:
        """Stable and readable; used as the key of every per-key table (results, state, progress)."""
        return f"{self.task}:{self.model}@{self.checkpoint}:{self.method}"

    @classmethod
    def from_id(cls, key_id: str) -> SearchKey:
        """The key whose :attr:`id` is ``key_id`` (``task:model@checkpoint:method``)."""
        try:
            task, rest = key_id.split(":", 1)
            model_at, method = rest.rsplit(":", 1)
            model, checkpoint = model_at.rsplit("@", 1)
        except ValueError:
            raise RaydimError(f"{key_id!r} is not a key id; expected task:model@checkpoint:method, "
                              "e.g. mrpc:minilm-l6@final:said") from None
        return cls(task, model, checkpoint, method)

    @property
    def baseline_key(self) -> SearchKey:
        """The full fine-tune this key's threshold comes from, shared by every method of the same model."""
        return SearchKey(self.task, self.model, self.checkpoint, FULL)

    def to_dict(self) -> dict[str, str]:
        return {"task": self.task, "model": self.model, "checkpoint": self.checkpoint, "method": self.method}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchKey:
        return cls(**data)


@dataclass(frozen=True)
class KeyTarget:
    """A key plus the two numbers its thresholds need besides the search itself.

    ``chance`` is the primary metric of the trivial predictor (majority-class
    accuracy, 0 for Matthews correlation or Pearson): a d90 whose threshold does
    not beat it measures nothing. ``baseline`` is the full fine-tune's metric when
    the user already knows it; ``None`` runs the full fine-tunes as trials.
    ``metric`` and ``eval_size`` (the primary metric's name, and the rows it is
    measured on) give the prior scale of seed noise (:mod:`raydim.search.noise`).
    ``train_chance`` is the trivial predictor's metric on the train rows a trial
    scores itself on: a trial no better than it there learned nothing
    (:mod:`raydim.search.collapse`); ``None`` leaves that test off.
    """

    key: SearchKey
    chance: float
    baseline: float | None = None
    metric: str | None = None
    eval_size: int | None = None
    train_chance: float | None = None

    def __post_init__(self) -> None:
        if self.key.method == FULL:
            raise RaydimError(
                f"key {self.key.id}: method {FULL!r} is the baseline, not a subspace method; use 'did' or 'said'"
            )
        if self.baseline is not None and self.baseline <= self.chance:
            raise RaydimError(
                f"key {self.key.id}: baseline {self.baseline} does not beat the trivial predictor's {self.chance}; "
                "check the metric, or leave baseline=None to run the full fine-tunes"
            )

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key.to_dict(), "chance": self.chance, "baseline": self.baseline, "metric": self.metric,
                "eval_size": self.eval_size, "train_chance": self.train_chance}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeyTarget:
        return cls(SearchKey.from_dict(data["key"]), data["chance"], data["baseline"], data.get("metric"),
                   data.get("eval_size"), data.get("train_chance"))
