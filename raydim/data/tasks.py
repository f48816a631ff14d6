"""The task registry: what a task is, independent of where its rows come from.

A :class:`Task` names its text fields, its label set (``None`` for regression),
its metrics and the one *primary* metric that d90 is measured on. Field and split
names follow the Hugging Face ``nyu-mll/glue`` dataset, so rows read from the
original GLUE TSV files and rows read from the hub come out identical.
"""

from __future__ import annotations

from dataclasses import dataclass

from raydim.errors import RaydimError

DATA_DIR_ENV = "RAYDIM_DATA_DIR"  # the GLUE TSV root when --data-dir is not given


@dataclass(frozen=True)
class Task:
    """A sequence classification or regression task.

    ``eval_splits[0]`` is the split whose ``primary_metric`` defines d90; further
    eval splits (MNLI's mismatched dev set) are reported alongside.
    """

    name: str
    text_fields: tuple[str, ...]
    labels: tuple[str, ...] | None
    metrics: tuple[str, ...]
    primary_metric: str
    eval_splits: tuple[str, ...] = ("validation",)
    train_split: str = "train"
    description: str = ""

    def __post_init__(self) -> None:
        if not 1 <= len(self.text_fields) <= 2:
            raise RaydimError(
                f"task {self.name!r}: text_fields must name 1 or 2 columns, got {list(self.text_fields)}"
            )
        if self.labels is not None and len(self.labels) < 2:
            raise RaydimError(f"task {self.name!r}: a classification task needs at least 2 labels, got {self.labels}")
        if self.primary_metric not in self.metrics:
            raise RaydimError(
                f"task {self.name!r}: primary_metric {self.primary_metric!r} is not one of its metrics {list(self.metrics)}"
            )

    @property
    def is_regression(self) -> bool:
        return self.labels is None

    @property
    def num_labels(self) -> int:
        """Output width of the model head: 1 for regression."""
        return 1 if self.labels is None else len(self.labels)

    @property
    def primary_split(self) -> str:
        return self.eval_splits[0]

    @property
    def splits(self) -> tuple[str, ...]:
        return (self.train_split, *self.eval_splits)


def _glue(name: str, fields: tuple[str, ...], labels: tuple[str, ...] | None, metrics: tuple[str, ...],
          description: str, eval_splits: tuple[str, ...] = ("validation",)) -> Task:
    return Task(name=name, text_fields=fields, labels=labels, metrics=metrics, primary_metric=metrics[0],
                eval_splits=eval_splits, description=description)


# Label names in id order, exactly as the hub's ClassLabel features order them.
GLUE_TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        _glue("cola", ("sentence",), ("unacceptable", "acceptable"), ("matthews_correlation", "accuracy"),
              "Corpus of Linguistic Acceptability"),
        _glue("sst2", ("sentence",), ("negative", "positive"), ("accuracy",), "Stanford Sentiment Treebank"),
        _glue("mrpc", ("sentence1", "sentence2"), ("not_equivalent", "equivalent"), ("accuracy", "f1"),
              "Microsoft Research Paraphrase Corpus"),
        _glue("qqp", ("question1", "question2"), ("not_duplicate", "duplicate"), ("accuracy", "f1"),
              "Quora Question Pairs"),
        _glue("stsb", ("sentence1", "sentence2"), None, ("pearson", "spearmanr"),
              "Semantic Textual Similarity Benchmark (regression, 0-5)"),
        _glue("mnli", ("premise", "hypothesis"), ("entailment", "neutral", "contradiction"), ("accuracy",),
              "Multi-Genre NLI", eval_splits=("validation_matched", "validation_mismatched")),
        _glue("qnli", ("question", "sentence"), ("entailment", "not_entailment"), ("accuracy",),
              "Question NLI"),
        _glue("rte", ("sentence1", "sentence2"), ("entailment", "not_entailment"), ("accuracy",),
              "Recognizing Textual Entailment"),
        _glue("wnli", ("sentence1", "sentence2"), ("not_entailment", "entailment"), ("accuracy",),
              "Winograd NLI"),
    )
}


def normalize_task_name(name: str) -> str:
    """``SST-2``, ``sst_2`` and ``sst2`` all name the same task."""
    return name.strip().lower().replace("-", "").replace("_", "")


def get_task(name: str) -> Task:
    """Look up a GLUE task by name, naming the known ones when it is not there."""
    task = GLUE_TASKS.get(normalize_task_name(name))
    if task is None:
        raise RaydimError(
            f"unknown task {name!r}; known tasks: {', '.join(GLUE_TASKS)} "
            "(or give a custom task's files with --train-file/--eval-file)"
        )
    return task


def custom_task(name: str, text_fields: tuple[str, ...], labels: tuple[str, ...] | None) -> Task:
    """A task read from user files: accuracy (plus F1 when binary), or Pearson/Spearman for regression."""
    if normalize_task_name(name) in GLUE_TASKS:
        raise RaydimError(f"custom task name {name!r} clashes with the GLUE task; pick another --task name")
    if labels is None:
        metrics: tuple[str, ...] = ("pearson", "spearmanr")
    elif len(labels) == 2:
        metrics = ("accuracy", "f1")
    else:
        metrics = ("accuracy",)
    return Task(name=name, text_fields=tuple(text_fields), labels=labels, metrics=metrics,
                primary_metric=metrics[0], description="custom task from files")
