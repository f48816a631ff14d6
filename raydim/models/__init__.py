"""Which model ``--model`` names, and loading it with a classification or regression head.

Names are imported on first use (:mod:`raydim.lazy`): parsing a model reference
needs no torch or transformers, loading one does.
"""

from raydim.lazy import lazy_names, public_names

_WHERE = {
    "raydim.models.checkpoints": ("checkpoint_step",),
    "raydim.models.loading": ("check_classifier", "check_max_length", "count_parameters", "load_config", "load_model",
                              "load_tokenizer"),
    "raydim.models.registry": ("ALIASES", "DEFAULT_MODEL", "RANDOM_INIT", "ModelAlias", "ModelRef", "parse_model_ref"),
}
__getattr__, __dir__ = lazy_names(__name__, _WHERE)
__all__ = public_names(_WHERE)
