"""Load a :class:`ModelRef` as a sequence classification (or regression) model and its tokenizer.

Every model gets its head from ``AutoModelForSequenceClassification``; the head is
the only new part of a pretrained model and is initialised from ``seed``, so two
trials with the same seed start from the same weights.

Encoders pool their first token ([CLS]); decoders (GPT-2, GPT-NeoX/Pythia, Llama,
Qwen2, Gemma) pool each row's last token, found as the rightmost token that is not
``config.pad_token_id`` (transformers 5). Their tokenizers mostly ship without a pad
token, so a tokenizer without one pads with its EOS token and the model's config
is given the tokenizer's pad id: the two must agree, or the head pools a pad.
Padding goes on the right for every model, so each row's tokens keep positions
0..n−1 (a left-padded GPT-2 would shift its absolute positions) and a causal
model's real tokens never attend to a pad.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import transformers
from transformers import (AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, PretrainedConfig,
                          PreTrainedModel, PreTrainedTokenizerBase)
from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING

from raydim.errors import RaydimError
from raydim.models.checkpoints import few, hub_revisions
from raydim.models.registry import RANDOM_INIT, ModelRef


@contextlib.contextmanager
def _hub_errors(ref: ModelRef, what: str) -> Iterator[None]:
    """Turn "cannot reach the hub / not cached / no such repo" into one actionable line."""
    try:
        yield
    except RaydimError:
        raise
    except (OSError, ValueError) as e:  # ValueError: files there, but not a model or tokenizer transformers can build
        if ref.revision is not None and not ref.is_local:
            _check_revision(ref)
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        where = f"{ref.source}@{ref.revision}" if ref.revision else ref.source
        raise RaydimError(
            f"cannot load the {what} of model {where!r} ({reason}); when offline (HF_HUB_OFFLINE=1) pass a local "
            f"directory with --model DIR, or use the packaged default --model minilm-l6"
        ) from None


def _check_revision(ref: ModelRef) -> None:
    """A revision the hub (online) or the cache (offline) does not list: name a few that it does."""
    known, from_hub = hub_revisions(ref.source)
    if known and ref.revision not in known:
        if from_hub:
            raise RaydimError(f"model {ref.source!r} has no revision {ref.revision!r}; it has {few(known)}")
        raise RaydimError(f"revision {ref.revision!r} of model {ref.source!r} is not in the local cache, which holds "
                          f"{few(known)}; pick one of those, or go online (unset HF_HUB_OFFLINE) to fetch it")


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


def load_config(ref: ModelRef, num_labels: int = 2, pad_token_id: int | None = None) -> PretrainedConfig:
    """The architecture, with a head of ``num_labels`` outputs (1 means regression).

    A checkpoint fine-tuned on another task carries that task's label names; they
    are replaced, since the head is new. ``pad_token_id`` is the id the tokenizer
    pads with (:func:`load_tokenizer`); without it a config lacking a pad id takes
    its EOS id, as the tokenizer would.
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
    if type(config) not in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING:
        raise RaydimError(f"model {ref} is a {config.model_type!r} model, for which transformers has no sequence "
                          "classification head (AutoModelForSequenceClassification); use an encoder or decoder "
                          "family that has one: BERT, RoBERTa, DeBERTa, GPT-2, GPT-NeoX (Pythia), Llama, Qwen2, Gemma")
    if pad_token_id is not None:
        config.pad_token_id = pad_token_id
    elif getattr(config, "pad_token_id", None) is None:
        eos = getattr(config, "eos_token_id", None)
        config.pad_token_id = eos[0] if isinstance(eos, list) and eos else eos
    return config


def load_model(ref: ModelRef, num_labels: int = 2, seed: int = 0, pad_token_id: int | None = None) -> PreTrainedModel:
    """Pretrained weights (new head drawn from ``seed``), or the whole model drawn from ``seed`` if random-init.

    ``pad_token_id``: the id its tokenizer pads with (``load_tokenizer(ref).pad_token_id``).
    """
    config = load_config(ref, num_labels, pad_token_id)
    if config.pad_token_id is None:
        raise RaydimError(f"model {ref} names no pad token (its config has neither pad_token_id nor eos_token_id): "
                          "its classification head cannot find each row's last token in a padded batch; "
                          "set pad_token_id in its config.json")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if ref.random_init:
            return AutoModelForSequenceClassification.from_config(config)
        with _hub_errors(ref, "weights"), _quiet_transformers():
            # a checkpoint fine-tuned with another head width gets a fresh head, as a new task needs
            return AutoModelForSequenceClassification.from_pretrained(ref.source, revision=ref.revision, config=config,
                                                                      ignore_mismatched_sizes=True)


def load_tokenizer(ref: ModelRef) -> PreTrainedTokenizerBase:
    """The pretrained tokenizer, padding on the right, with its EOS token as the pad token if it has none.

    A random-init model shares its pretrained twin's vocabulary.
    """
    with _hub_errors(ref, "tokenizer"):
        tokenizer = AutoTokenizer.from_pretrained(ref.source, revision=None if ref.random_init else ref.revision)
    if len(tokenizer) <= len(set(tokenizer.all_special_ids)):  # transformers 5 builds one from a config alone
        raise RaydimError(f"the tokenizer of model {ref} has no vocabulary: its folder or revision lacks the tokenizer "
                          "files; save them with each checkpoint (tokenizer.save_pretrained(folder))")
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise RaydimError(f"the tokenizer of model {ref} has neither a pad token nor an EOS token to pad with; "
                              "add one (tokenizer.add_special_tokens({'pad_token': ...})) and save it with the model")
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    return tokenizer


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


class MaxLengthError(RaydimError):
    """``max_length`` is beyond the model's positions (as opposed to a model whose config cannot be read)."""


def check_max_length(ref: ModelRef, max_length: int) -> None:
    """Refuse a ``max_length`` beyond the model's positions, before any work: an input that long fails only
    when a batch first holds one (an index error deep in the embeddings), maybe hours in. Refused rather
    than clamped, so that the length a result was measured at is the one asked for."""
    limit = max_positions(load_config(ref.with_checkpoint(RANDOM_INIT)))  # the same architecture at every checkpoint
    if limit is not None and max_length > limit:
        raise MaxLengthError(f"max length {max_length} exceeds the {limit} positions of model {ref.name!r}; "
                          f"lower --max-length (train.max_length in a search space) to {limit} or less")


def count_parameters(ref: ModelRef, num_labels: int = 2) -> int:
    """D, the number of trainable parameters with a ``num_labels`` head, without allocating any weights."""
    # the architecture is the same at every checkpoint; random-init reads a shipped config when there is one
    config = load_config(ref.with_checkpoint(RANDOM_INIT), num_labels)
    with torch.device("meta"):
        model = AutoModelForSequenceClassification.from_config(config)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def check_classifier(ref: ModelRef, num_labels: int = 2) -> None:
    """Raise the one-line error training ``ref`` would meet (no such revision, no classification head, nothing
    to pad with) by loading only its tokenizer and config: a search checks every checkpoint before Ray starts."""
    load_config(ref, num_labels)
    load_tokenizer(ref)
