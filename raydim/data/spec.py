"""A task's data as plain, serialisable settings: what a trial config carries to any worker."""

from __future__ import annotations

from dataclasses import dataclass

from raydim.data.files import FileSource
from raydim.data.loading import TaskData, load_task_data, resolve_source
from raydim.data.tasks import get_task
from raydim.errors import RaydimError


@dataclass(frozen=True)
class DataSpec:
    """A GLUE task (local TSV folder or hub), or a custom task from files.

    ``seed`` picks the subsample; it is separate from the training seed so that
    trials with different seeds see the same rows.
    """

    task: str = "mrpc"
    data_dir: str | None = None
    train_file: str | None = None
    eval_file: str | None = None
    text_columns: tuple[str, ...] = ()
    label_column: str = "label"
    regression: bool = False
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        custom = [self.train_file, self.eval_file, self.text_columns]
        if any(custom) and not all(custom):
            raise RaydimError("a custom task needs all of --train-file, --eval-file and --text-columns")
        for name in ("max_train_samples", "max_eval_samples"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise RaydimError(f"{name} must be positive, got {value}")
        if self.seed < 0:  # numpy's generators take no negative seed
            raise RaydimError(f"the data seed must be >= 0, got {self.seed}")

    @property
    def is_custom(self) -> bool:
        return self.train_file is not None

    def load(self) -> TaskData:
        if self.is_custom:
            source = FileSource(self.train_file, self.eval_file, tuple(self.text_columns), self.label_column)
            task = source.infer_task(self.task, regression=self.regression)
        else:
            task = get_task(self.task)
            source = resolve_source(task, self.data_dir)
        return load_task_data(task, source=source, max_train_samples=self.max_train_samples,
                              max_eval_samples=self.max_eval_samples, seed=self.seed)
