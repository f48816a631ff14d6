"""One fine-tune's settings: everything that defines a trial's result."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field

from raydim.data.spec import DataSpec
from raydim.errors import RaydimError
from raydim.methods import get_method
from raydim.models.registry import DEFAULT_MODEL
from raydim.subspace.layout import GROUPINGS
from raydim.subspace.projected import NORMALIZATIONS, SubspaceConfig


LATER_OPTIONS = {"group_by_length": False}


@dataclass(frozen=True)
class TrainConfig:
    """A fine-tune of ``model`` on ``data`` with ``method`` at subspace dimension ``d``.

    ``seed`` draws the new head, the batch order and dropout; the subspace P is
    drawn from ``projection_seed`` (default: ``seed``). ``lr=None`` takes the
    method's default (subspace training wants far larger rates than full
    fine-tuning, and smaller ones the larger d is: 0.1 × √(10⁴/d)).
    ``group_by_length`` batches training rows of similar length together: the
    same epochs for about two thirds of the compute on GLUE's sentence pairs.
    """

    data: DataSpec = field(default_factory=DataSpec)
    model: str = DEFAULT_MODEL
    method: str = "said"
    d: int | None = None
    lr: float | None = None
    epochs: int = 3
    batch_size: int = 32
    eval_batch_size: int = 128
    max_length: int = 128
    seed: int = 0
    projection_seed: int | None = None
    warmup_ratio: float = 0.1
    weight_decay: float = 0.0
    max_grad_norm: float | None = 1.0
    normalization: str = "global"
    grouping: str = "layer"
    train_eval_samples: int = 1000
    device: str = "auto"
    bf16: bool = False
    group_by_length: bool = False

    def __post_init__(self) -> None:
        try:
            method_error = get_method(self.method).d_error(self.d)
        except RaydimError as e:
            method_error = str(e)
        errors = [method_error] if method_error else []
        if self.d is not None and self.d <= 0:
            errors.append(f"d must be a positive integer, got {self.d}")
        for name in ("epochs", "batch_size", "eval_batch_size", "max_length", "train_eval_samples"):
            if getattr(self, name) <= 0:
                errors.append(f"{name} must be positive, got {getattr(self, name)}")
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            errors.append(f"lr must be a positive number, got {self.lr}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            errors.append(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            errors.append(f"max_grad_norm must be > 0 (or null: no clipping), got {self.max_grad_norm}")
        if not 0 <= self.warmup_ratio < 1:
            errors.append(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.normalization not in NORMALIZATIONS:
            errors.append(f"normalization must be one of {', '.join(NORMALIZATIONS)}, got {self.normalization!r}")
        if self.grouping not in GROUPINGS:
            errors.append(f"grouping must be one of {', '.join(GROUPINGS)}, got {self.grouping!r}")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            errors.append(f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        for name in ("bf16", "group_by_length"):  # a YAML typo such as `maybe` would otherwise read as true
            if not isinstance(getattr(self, name), bool):
                errors.append(f"{name} must be true or false, got {getattr(self, name)!r}")
        if errors:
            raise RaydimError("; ".join(errors))

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else get_method(self.method).default_lr_at(self.d)

    def subspace(self) -> SubspaceConfig | None:
        if self.d is None:
            return None
        seed = self.seed if self.projection_seed is None else self.projection_seed
        return SubspaceConfig(d=self.d, seed=seed, normalization=self.normalization, grouping=self.grouping)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        values = dict(values)
        data = values.pop("data", {})
        if isinstance(data, dict):
            data = DataSpec(**{**data, "text_columns": tuple(data.get("text_columns", ()))})
        return cls(data=data, **values)

    def settings_hash(self) -> str:
        """Identifies the result this config defines (device and eval batch size do not change it).

        Options added since the first release are left out while at their
        default, so rows stored before them keep their hash and are reused.
        """
        values = self.to_dict()
        for irrelevant in ("device", "eval_batch_size"):
            values.pop(irrelevant)
        for added, default in LATER_OPTIONS.items():
            if values[added] == default:
                values.pop(added)
        return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]
