"""Tasks, their rows from any source, metrics, and tokenised batches.

Names are imported on first use (:mod:`raydim.lazy`): the task table needs
neither ``datasets`` nor torch, the loaders and tokeniser do.
"""

from raydim.lazy import lazy_names, public_names

_WHERE = {
    "raydim.data.files": ("FileSource",),
    "raydim.data.glue_tsv": ("GlueTsvSource",),
    "raydim.data.hub": ("GlueHubSource",),
    "raydim.data.loading": ("TaskData", "load_task_data", "resolve_source", "subsample"),
    "raydim.data.metrics": ("METRICS", "compute_metrics", "trivial_baseline"),
    "raydim.data.tasks": ("DATA_DIR_ENV", "GLUE_TASKS", "Task", "custom_task", "get_task"),
    "raydim.data.tokenize": ("make_dataloader", "tokenize_task_data"),
}
__getattr__, __dir__ = lazy_names(__name__, _WHERE)
__all__ = public_names(_WHERE)
