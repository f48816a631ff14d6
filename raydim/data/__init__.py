"""Tasks, their rows from any source, metrics, and tokenised batches."""

from raydim.data.files import FileSource
from raydim.data.glue_tsv import GlueTsvSource
from raydim.data.hub import GlueHubSource
from raydim.data.loading import DATA_DIR_ENV, TaskData, load_task_data, resolve_source, subsample
from raydim.data.metrics import METRICS, compute_metrics, trivial_baseline
from raydim.data.tasks import GLUE_TASKS, Task, custom_task, get_task
from raydim.data.tokenize import make_dataloader, tokenize_task_data

__all__ = [
    "DATA_DIR_ENV", "FileSource", "GLUE_TASKS", "GlueHubSource", "GlueTsvSource", "METRICS", "Task", "TaskData",
    "compute_metrics", "custom_task", "get_task", "load_task_data", "make_dataloader", "resolve_source",
    "subsample", "tokenize_task_data", "trivial_baseline",
]
