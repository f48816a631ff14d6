"""Which model ``--model`` names, and loading it with a classification or regression head."""

from raydim.models.checkpoints import checkpoint_step
from raydim.models.loading import (check_classifier, check_max_length, count_parameters, load_config, load_model,
                                   load_tokenizer)
from raydim.models.registry import ALIASES, DEFAULT_MODEL, RANDOM_INIT, ModelAlias, ModelRef, parse_model_ref

__all__ = [
    "ALIASES", "DEFAULT_MODEL", "RANDOM_INIT", "ModelAlias", "ModelRef", "check_classifier", "check_max_length",
    "checkpoint_step", "count_parameters", "load_config", "load_model", "load_tokenizer", "parse_model_ref",
]
