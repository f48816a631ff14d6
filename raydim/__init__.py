"""raydim: the intrinsic dimension of fine-tuning (Aghajanyan et al. 2021), measured on Ray Tune."""

from raydim.data import GLUE_TASKS, Task, get_task, load_task_data, tokenize_task_data
from raydim.errors import RaydimError
from raydim.models import count_parameters, load_model, load_tokenizer, parse_model_ref

__version__ = "0.1.0"

__all__ = [
    "GLUE_TASKS", "RaydimError", "Task", "__version__", "count_parameters", "get_task", "load_model",
    "load_task_data", "load_tokenizer", "parse_model_ref", "tokenize_task_data",
]
