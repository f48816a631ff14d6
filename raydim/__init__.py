"""raydim: the intrinsic dimension of fine-tuning (Aghajanyan et al. 2021), measured on Ray Tune.

The public names below are imported on first use (:mod:`raydim.lazy`): ``import
raydim`` loads no torch, transformers or datasets until a name that needs them is used.
"""

from raydim.errors import RaydimError
from raydim.lazy import lazy_names, public_names

__version__ = "0.1.0"

_WHERE = {
    "raydim.data.tasks": ("GLUE_TASKS", "Task", "get_task"),
    "raydim.data.loading": ("load_task_data",),
    "raydim.data.tokenize": ("tokenize_task_data",),
    "raydim.models.loading": ("count_parameters", "load_model", "load_tokenizer"),
    "raydim.models.registry": ("parse_model_ref",),
}
__getattr__, __dir__ = lazy_names(__name__, _WHERE)
__all__ = sorted(["RaydimError", "__version__", *public_names(_WHERE)])
