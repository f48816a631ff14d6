"""Turn raw rows from any file format into one canonical ``datasets.Dataset`` per split.

Every source ends here, so every source gets the same checks: an unknown label or
an unparsable regression target names the file and line, and an empty split is an
error rather than a model evaluated on nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import datasets

from raydim.data.tasks import Task
from raydim.errors import RaydimError

Row = tuple[str, Mapping[str, object]]  # (location such as "dev.tsv:17", column -> raw value)


def features(task: Task) -> datasets.Features:
    """The canonical columns: the task's text fields, then ``label`` (class id, or float32 score)."""
    columns: dict[str, datasets.Value | datasets.ClassLabel] = {f: datasets.Value("string") for f in task.text_fields}
    columns["label"] = datasets.Value("float32") if task.is_regression else datasets.ClassLabel(names=list(task.labels))
    return datasets.Features(columns)


def _label_id(task: Task, raw: object, label_values: tuple[str, ...], location: str) -> int | float:
    value = "" if raw is None else str(raw).strip()
    if task.is_regression:
        try:
            return float(value)
        except ValueError:
            raise RaydimError(f"{location}: label {value!r} of regression task {task.name!r} is not a number") from None
    try:
        return label_values.index(value)
    except ValueError:
        raise RaydimError(
            f"{location}: unknown label {value!r} for task {task.name!r} (expected one of {', '.join(label_values)})"
        ) from None


def build_split(task: Task, split: str, rows: Iterable[Row], text_columns: tuple[str, ...], label_column: str,
                label_values: tuple[str, ...] | None, origin: str) -> datasets.Dataset:
    """Collect ``rows`` into the canonical dataset of one split.

    ``text_columns[i]`` is the raw column holding ``task.text_fields[i]``;
    ``label_values[k]`` is the raw spelling of class id ``k`` (ignored for regression).
    """
    columns: dict[str, list] = {f: [] for f in task.text_fields}
    columns["label"] = []
    values = label_values if label_values is not None else (task.labels or ())
    for location, row in rows:
        for field, column in zip(task.text_fields, text_columns):
            if column not in row:
                raise RaydimError(f"{location}: no column {column!r} (columns: {', '.join(map(str, row))})")
            text = row[column]
            columns[field].append("" if text is None else str(text))
        if label_column not in row:
            raise RaydimError(f"{location}: no label column {label_column!r} (columns: {', '.join(map(str, row))})")
        columns["label"].append(_label_id(task, row[label_column], values, location))
    if not columns["label"]:
        raise RaydimError(f"split {split!r} of task {task.name!r} is empty ({origin}); it needs at least one row")
    return datasets.Dataset.from_dict(columns, features=features(task))
