"""One fine-tune (full, DID or SAID) from settings to per-epoch metrics."""

from raydim.train.config import TrainConfig
from raydim.train.loop import EpochMetrics, TrainResult, train

__all__ = ["EpochMetrics", "TrainConfig", "TrainResult", "train"]
