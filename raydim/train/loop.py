"""One fine-tune, read top to bottom: set up data, model and method, then train and evaluate per epoch.

The same function serves ``raydim train`` and the Ray Tune trainable: a trainable
passes ``on_epoch`` to report metrics and save a checkpoint, and ``resume`` to
continue from one. Randomness that a resumed run must reproduce (batch order,
dropout) is seeded from (seed, epoch), so an epoch-boundary checkpoint needs no
RNG state and a resumed run matches an uninterrupted one.
"""

from __future__ import annotations

import copy
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numba
import torch
from tqdm.auto import tqdm

from raydim.data.loading import TaskData, subsample
from raydim.data.tokenize import make_dataloader, tokenize_task_data
from raydim.errors import DIVERGED, RaydimError
from raydim.methods import get_method
from raydim.methods.base import TrainableMethod
from raydim.models import check_max_length, load_model, load_tokenizer, parse_model_ref
from raydim.train.config import TrainConfig
from raydim.train.evaluate import evaluate

STATE_VERSION = 1


class TrainingDiverged(RaydimError):
    """The training loss became NaN or infinite, or went back up to the trivial predictor's after it had learned:
    the run can only go on producing garbage, so it stops.

    Almost always a learning rate too high for the method (subspace methods take
    far larger ones than full fine-tuning; see docs/subspace.md). A Ray trial
    reports it as the trial's error instead of a score (:mod:`raydim.tune.trainable`).
    """


LEARNED = 0.05  # nats: an epoch's mean training loss this far below the label prior's entropy had learned something
COLLAPSED = 0.01  # nats: one within this of the prior's entropy (or above) predicts no better than the label prior


def prior_entropy(label_counts: dict[str, int]) -> float | None:
    """The cross-entropy of always predicting the train split's label frequencies: the training loss of a
    classifier that learned nothing. None for regression (no labels)."""
    total = sum(label_counts.values())
    if not total:
        return None
    return -sum(n / total * math.log(n / total) for n in label_counts.values() if n)


def collapse(history: list[EpochMetrics], entropy: float | None) -> str | None:
    """Why the run's last epoch collapsed to the trivial predictor, or None.

    An epoch whose mean training loss is back at the label prior's entropy after an
    earlier one had learned (:data:`LEARNED` below it) has thrown away what it learned:
    a classifier at that loss predicts the prior, its dev score the majority class.
    Its best epoch, the earlier one, is not what d can do but what the learning rate
    allowed before it wrecked the run (seen on SST-2: MPNet SAID at d = 100 and lr 1.0,
    0.665 after epoch 1, then loss 0.693 and the majority class for epochs 2 and 3).
    """
    if entropy is None or len(history) < 2:
        return None
    last, best = history[-1], min(history[:-1], key=lambda e: e.train_loss)
    if last.train_loss < entropy - COLLAPSED or best.train_loss > entropy - LEARNED:
        return None
    return (f"{DIVERGED} {last.train_loss:.4f} at epoch {last.epoch}, no better than predicting the label prior "
            f"(its entropy {entropy:.4f}), after {best.train_loss:.4f} at epoch {best.epoch}: the run collapsed to "
            "the trivial predictor")


@dataclass
class EpochMetrics:
    """Metrics after one epoch. ``metrics`` keys are ``split/metric`` (``validation/accuracy``, ``train/loss``)."""

    epoch: int
    step: int
    train_loss: float
    metrics: dict[str, float]
    primary: float
    seconds: float


@dataclass
class TrainResult:
    config: TrainConfig
    task: str
    primary_metric: str
    D: int  # noqa: N815 - the paper's symbol
    num_trainable: int
    train_size: int
    device: str
    layout_fingerprint: str | None = None  # the subspace's parameter layout (DID/SAID), see raydim.train.fingerprint
    history: list[EpochMetrics] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def best(self) -> EpochMetrics:
        """The epoch with the best primary metric (the paper reports the best epoch)."""
        return max(self.history, key=lambda e: -math.inf if math.isnan(e.primary) else e.primary)

    @property
    def final(self) -> EpochMetrics:
        return self.history[-1]

    def to_dict(self) -> dict:
        out = asdict(self)
        out["best"], out["final"] = asdict(self.best), asdict(self.final)
        return out


def lr_at(step: int, total: int, warmup: int) -> float:
    """Linear warm-up to the peak, then linear decay to zero (a multiplier of the peak rate)."""
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def train_step(method: TrainableMethod, optimizer: torch.optim.Optimizer, batch: dict[str, torch.Tensor],
               max_grad_norm: float | None = 1.0, autocast_dtype: torch.dtype | None = None) -> float:
    """One optimiser step on one batch; returns the loss. Shared with the step benchmark."""
    # forward / backward through θ = θ₀ + λ·P·θ_d (or plain θ for full)
    device_type = batch["input_ids"].device.type
    with torch.autocast(device_type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
        loss = method.model(**batch).loss
    loss.backward()
    method.after_backward()
    # step
    if max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(method.trainable_parameters(), max_grad_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RaydimError(f"device {name!r} requested but no CUDA GPU is visible; use --device cpu")
    return torch.device(name)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.machine()}, {torch.get_num_threads()} threads)"


def train(config: TrainConfig, *, data: TaskData | None = None,
          on_epoch: Callable[[EpochMetrics, Callable[[], dict]], None] | None = None,
          on_start: Callable[[TrainResult], None] | None = None,
          on_step: Callable[[int, int, int], None] | None = None,
          resume: dict | None = None, progress: bool = True) -> TrainResult:
    """Fine-tune as ``config`` says; return every epoch's metrics.

    ``on_start(result)`` is called once the model is built, before any training,
    with what the run is (D, trainable parameters, train-set size, device; the
    history of a resumed run). ``on_step(step, total_steps, epoch)`` is called
    after every optimiser step (a Ray trial writes its progress from it).
    ``on_epoch(metrics, state)`` is called after each epoch; ``state()`` builds
    the checkpoint (θ_d and λ, optimiser, scheduler, history) only if asked for.
    """
    started = time.perf_counter()
    device = resolve_device(config.device)
    autocast_dtype = torch.bfloat16 if config.bf16 else None

    ref = parse_model_ref(config.model)
    check_max_length(ref, config.max_length)

    # data
    data = data or config.data.load()
    task = data.task
    tokenizer = load_tokenizer(ref)
    tokenized = tokenize_task_data(data, tokenizer, config.max_length)
    train_set = tokenized[task.train_split]
    entropy = prior_entropy(data.label_counts(task.train_split))
    train_eval_set = subsample(train_set, config.train_eval_samples, config.data.seed)
    eval_loaders = {s: make_dataloader(tokenized[s], tokenizer, config.eval_batch_size) for s in task.eval_splits}
    eval_loaders["train"] = make_dataloader(train_eval_set, tokenizer, config.eval_batch_size)

    # model and method
    model = load_model(ref, task.num_labels, seed=config.seed, pad_token_id=tokenizer.pad_token_id).to(device)
    D = sum(p.numel() for p in model.parameters() if p.requires_grad)  # noqa: N806 - before a subspace freezes them
    method: TrainableMethod = get_method(config.method).build(model, config.subspace(), str(ref))
    optimizer = torch.optim.AdamW(method.trainable_parameters(), lr=config.learning_rate,
                                  weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(train_set) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    warmup = int(config.warmup_ratio * total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_at(s, total_steps, warmup))

    layout = getattr(method, "layout", None)  # DID/SAID: where θ's rows live, which with (seed, d) fixes P
    result = TrainResult(config=config, task=task.name, primary_metric=task.primary_metric, D=D,
                         num_trainable=method.num_trainable, train_size=len(train_set), device=_device_name(device),
                         layout_fingerprint=layout.fingerprint() if layout is not None else None)
    start_epoch = 0
    if resume is not None:
        start_epoch = _restore(resume, method, optimizer, scheduler, result)
    if on_start is not None:
        on_start(result)

    bar = tqdm(total=total_steps, initial=start_epoch * steps_per_epoch, disable=not progress, unit="step",
               desc=f"{config.method}" + (f" d={config.d}" if config.d else ""), dynamic_ncols=True)
    step = start_epoch * steps_per_epoch
    for epoch in range(start_epoch, config.epochs):
        epoch_started = time.perf_counter()
        torch.manual_seed(config.seed * 100_003 + epoch)  # dropout
        loader = make_dataloader(train_set, tokenizer, config.batch_size, shuffle=True,
                                 seed=config.seed * 100_003 + epoch, group_by_length=config.group_by_length)
        model.train()
        loss_sum, batches = 0.0, 0
        for batch in loader:
            batch = {k: v.to(device) for k, v in batch.items()}
            loss = train_step(method, optimizer, batch, config.max_grad_norm, autocast_dtype)
            if not math.isfinite(loss):
                bar.close()
                raise TrainingDiverged(f"{DIVERGED} {loss} at step {step + 1} (epoch {epoch + 1}) "
                                       f"of {config.method} at lr={config.learning_rate:g}; lower the learning rate")
            scheduler.step()
            loss_sum += loss
            batches += 1
            step += 1
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss_sum / batches:.4f}")
            if on_step is not None:
                on_step(step, total_steps, epoch + 1)
        # evaluate
        metrics = {}
        for split, eval_loader in eval_loaders.items():
            for name, value in evaluate(model, eval_loader, task, device, autocast_dtype).items():
                metrics[f"{split}/{name}"] = value
        record = EpochMetrics(epoch=epoch + 1, step=step, train_loss=loss_sum / max(1, batches), metrics=metrics,
                              primary=metrics[f"{task.primary_split}/{task.primary_metric}"],
                              seconds=time.perf_counter() - epoch_started)
        result.history.append(record)
        collapsed = collapse(result.history, entropy)
        if collapsed is not None:
            bar.close()
            raise TrainingDiverged(f"{collapsed} (of {config.method} at lr={config.learning_rate:g}); lower the "
                                   "learning rate")
        if on_epoch is not None:
            on_epoch(record, lambda: _state(method, optimizer, scheduler, result))
    bar.close()
    result.seconds = time.perf_counter() - started
    return result


def _state(method: TrainableMethod, optimizer: torch.optim.Optimizer, scheduler, result: TrainResult) -> dict:
    return {
        "version": STATE_VERSION,
        "epoch": len(result.history),
        "settings_hash": result.config.settings_hash(),
        "trainable": method.trainable_state(),
        "optimizer": copy.deepcopy(optimizer.state_dict()),  # a snapshot: training goes on mutating the live one
        "scheduler": scheduler.state_dict(),
        "history": [asdict(e) for e in result.history],
    }


def _restore(state: dict, method: TrainableMethod, optimizer: torch.optim.Optimizer, scheduler,
             result: TrainResult) -> int:
    if state.get("version") != STATE_VERSION:
        raise RaydimError(f"checkpoint version {state.get('version')} is not {STATE_VERSION}; start the trial afresh")
    if state["settings_hash"] != result.config.settings_hash():
        raise RaydimError("checkpoint was written by a trial with other settings; start the trial afresh")
    method.load_trainable_state(state["trainable"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    result.history = [EpochMetrics(**e) for e in state["history"]]
    return int(state["epoch"])


def set_threads(num_threads: int | None) -> None:
    """Match torch's and numba's threads to the CPUs this process may use (a Ray trial's share).

    Both default to every core of the machine: two trials packed on one node
    would otherwise each run as many threads as it has cores.
    """
    if num_threads is None:
        num_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    num_threads = max(1, num_threads)
    torch.set_num_threads(num_threads)
    numba.set_num_threads(min(num_threads, numba.config.NUMBA_NUM_THREADS))
