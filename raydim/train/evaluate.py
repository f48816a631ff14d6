"""Evaluate a model on tokenised splits with the task's metrics."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader

from raydim.data.metrics import compute_metrics
from raydim.data.tasks import Task


@torch.no_grad()
def evaluate(model: torch.nn.Module, loader: DataLoader, task: Task, device: torch.device,
             autocast_dtype: torch.dtype | None = None) -> dict[str, float]:
    """The task's metrics and the mean loss over one split; leaves the model in eval mode."""
    model.eval()
    predictions, labels, loss_sum, rows = [], [], 0.0, 0
    for batch in loader:
        batch = {k: v.to(device) for k, v in batch.items()}
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            out = model(**batch)
        logits = out.logits.float()  # (B, num_labels)
        n = len(batch["labels"])
        loss_sum += out.loss.item() * n
        rows += n
        predictions.append(logits.squeeze(-1) if task.is_regression else logits.argmax(-1))
        labels.append(batch["labels"])
    p = torch.cat(predictions).cpu().numpy()
    y = torch.cat(labels).cpu().numpy()
    metrics = compute_metrics(task, p, y)
    metrics["loss"] = loss_sum / rows
    if not np.isfinite(metrics["loss"]):
        metrics["loss"] = float("nan")
    return metrics
