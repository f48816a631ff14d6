"""Load a :class:`ModelRef` as a sequence classification (or regression) model and its tokenizer.

Every model gets its head from ``AutoModelForSequenceClassification``; the head is
the only new part of a pretrained model and is initialised from ``seed``, so two
trials with the same seed start from the same weights.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import transformers
from transformers import (AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, PretrainedConfig,
                          PreTrainedModel, PreTrainedTokenizerBase)

from raydim.errors import RaydimError
from raydim.models.registry import RANDOM_INIT, ModelRef


@contextlib.contextmanager
def _hub_errors(ref: ModelRef, what: str) -> Iterator[None]:
    """Turn "cannot reach the hub / not cached / no such repo" into one actionable line."""
    try:
        yield
    except OSError as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        where = f"{ref.source}@{ref.revision}" if ref.revision else ref.source
        raise RaydimError(
            f"cannot load the {what} of model {where!r} ({reason}); when offline (HF_HUB_OFFLINE=1) pass a local "
            f"directory with --model DIR, or use the packaged default --model minilm-l6"
        ) from None


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence the expected "classifier weights newly initialised" report and progress bar of every load."""
    level, bars = transformers.logging.get_verbosity(), transformers.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    try:
        yield
    finally:
        transformers.logging.set_verbosity(level)
        if bars:
            transformers.logging.enable_progress_bar()


def load_config(ref: ModelRef, num_labels: int = 2) -> PretrainedConfig:
    """The architecture, with a head of ``num_labels`` outputs (1 means regression).

    A checkpoint fine-tuned on another task carries that task's label names; they
    are replaced, since the head is new.
    """
    shipped = ref.shipped_config
    if ref.random_init and shipped is not None:
        config = AutoConfig.from_pretrained(str(shipped))  # no network needed
    else:
        with _hub_errors(ref, "config"):
            config = AutoConfig.from_pretrained(ref.source, revision=ref.revision)
    config.id2label = {i: f"LABEL_{i}" for i in range(num_labels)}
    config.label2id = {name: i for i, name in config.id2label.items()}
    config.problem_type = "regression" if num_labels == 1 else "single_label_classification"
    return config


def load_model(ref: ModelRef, num_labels: int = 2, seed: int = 0) -> PreTrainedModel:
    """Pretrained weights (new head drawn from ``seed``), or the whole model drawn from ``seed`` if random-init."""
    config = load_config(ref, num_labels)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if ref.random_init:
            return AutoModelForSequenceClassification.from_config(config)
        with _hub_errors(ref, "weights"), _quiet_transformers():
            # a checkpoint fine-tuned with another head width gets a fresh head, as a new task needs
            return AutoModelForSequenceClassification.from_pretrained(ref.source, revision=ref.revision, config=config,
                                                                      ignore_mismatched_sizes=True)


def load_tokenizer(ref: ModelRef) -> PreTrainedTokenizerBase:
    """The pretrained tokenizer; a random-init model shares its pretrained twin's vocabulary."""
    with _hub_errors(ref, "tokenizer"):
        return AutoTokenizer.from_pretrained(ref.source, revision=None if ref.random_init else ref.revision)


# Model types whose position ids start after the padding index (RoBERTa's embeddings): of their
# max_position_embeddings, the first pad_token_id + 1 are never used.
_POSITIONS_AFTER_PADDING = ("roberta", "xlm-roberta", "camembert", "data2vec-text", "longformer", "roberta-prelayernorm",
                            "xmod", "mpnet", "ibert")


def max_positions(config: PretrainedConfig) -> int | None:
    """The longest input, in tokens, the model's position embeddings cover; None where it has no absolute
    positions (T5's relative attention, DeBERTa's without position-biased input) and so no fixed limit."""
    positions = getattr(config, "max_position_embeddings", None)
    if positions is None or getattr(config, "position_biased_input", True) is False:
        return None
    if config.model_type in _POSITIONS_AFTER_PADDING:
        positions -= (config.pad_token_id or 0) + 1
    return positions


def check_max_length(ref: ModelRef, max_length: int) -> None:
    """Refuse a ``max_length`` beyond the model's positions, before any work: an input that long fails only
    when a batch first holds one (an index error deep in the embeddings), maybe hours in. Refused rather
    than clamped, so that the length a result was measured at is the one asked for."""
    limit = max_positions(load_config(ref.with_checkpoint(RANDOM_INIT)))  # the same architecture at every checkpoint
    if limit is not None and max_length > limit:
        raise RaydimError(f"max length {max_length} exceeds the {limit} positions of model {ref.name!r}; "
                          f"lower --max-length (train.max_length in a search space) to {limit} or less")


def count_parameters(ref: ModelRef, num_labels: int = 2) -> int:
    """D, the number of trainable parameters with a ``num_labels`` head, without allocating any weights."""
    # the architecture is the same at every checkpoint; random-init reads a shipped config when there is one
    config = load_config(ref.with_checkpoint(RANDOM_INIT), num_labels)
    with torch.device("meta"):
        model = AutoModelForSequenceClassification.from_config(config)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
