"""Custom tasks from the user's own files: CSV, TSV, JSON Lines or Parquet.

The file kind comes from the extension. TSV is read like GLUE's (QUOTE_NONE: a
quote is just a character); CSV uses standard quoting.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq

from raydim.data.examples import Row, build_split
from raydim.data.tasks import Task, custom_task
from raydim.data.utf8 import utf8_lines
from raydim.errors import RaydimError

FILE_KINDS = (".csv", ".tsv", ".jsonl", ".parquet")


def _read_delimited(path: Path, delimiter: str, quoting: int) -> Iterator[Row]:
    reader = csv.DictReader(utf8_lines(path), delimiter=delimiter, quoting=quoting)
    for row in reader:
        location = f"{path}:{reader.line_num}"
        if None in row or None in row.values():
            raise RaydimError(f"{location}: malformed row: field count differs from the header's {len(reader.fieldnames or [])}")
        yield location, row


def _read_jsonl(path: Path) -> Iterator[Row]:
    for line_no, line in enumerate(utf8_lines(path), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise RaydimError(f"{path}:{line_no}: malformed JSON line ({e.msg})") from None
        if not isinstance(row, dict):
            raise RaydimError(f"{path}:{line_no}: malformed row: expected a JSON object, got {type(row).__name__}")
        yield f"{path}:{line_no}", row


def _read_parquet(path: Path) -> Iterator[Row]:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        raise RaydimError(f"{path}: not a readable Parquet file ({str(e).splitlines()[0]}); "
                          "write it again, or give the rows as .csv, .tsv or .jsonl") from None
    for i, row in enumerate(table.to_pylist()):
        yield f"{path}: row {i}", row


def read_rows(path: Path) -> Iterator[Row]:
    """Rows of one file, dispatched on its extension."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_delimited(path, ",", csv.QUOTE_MINIMAL)
    if suffix == ".tsv":
        return _read_delimited(path, "\t", csv.QUOTE_NONE)
    if suffix == ".jsonl":
        return _read_jsonl(path)
    if suffix == ".parquet":
        return _read_parquet(path)
    raise RaydimError(f"file {str(path)!r}: unknown kind {suffix!r}; use one of {', '.join(FILE_KINDS)}")


def _sort_key(value: str) -> tuple[int, float | str]:
    try:
        return (0, float(value))
    except ValueError:
        return (1, value)


class FileSource:
    """A train file and an eval file with named text and label columns."""

    def __init__(self, train_file: str | Path, eval_file: str | Path, text_columns: tuple[str, ...],
                 label_column: str) -> None:
        self.files = {"train": Path(train_file).expanduser(), "validation": Path(eval_file).expanduser()}
        for split, path in self.files.items():
            if not path.is_file():
                raise RaydimError(f"{split} file {str(path)!r} does not exist")
            if path.suffix.lower() not in FILE_KINDS:
                raise RaydimError(f"{split} file {str(path)!r}: unknown kind; use one of {', '.join(FILE_KINDS)}")
        if not 1 <= len(text_columns) <= 2:
            raise RaydimError(f"give 1 or 2 text columns, got {len(text_columns)}: {', '.join(text_columns)}")
        self.text_columns = tuple(text_columns)
        self.label_column = label_column

    def __repr__(self) -> str:
        return f"files:{self.files['train']},{self.files['validation']}"

    def infer_task(self, name: str, regression: bool = False) -> Task:
        """The task these files define; class names are the train file's distinct labels, sorted."""
        if regression:
            return custom_task(name, self.text_columns, None)
        seen = set()
        for location, row in read_rows(self.files["train"]):
            if self.label_column not in row:
                raise RaydimError(f"{location}: no label column {self.label_column!r} (columns: {', '.join(map(str, row))})")
            seen.add(str(row[self.label_column]).strip())
        if len(seen) < 2:
            raise RaydimError(
                f"train file {str(self.files['train'])!r} has {len(seen)} distinct label(s); a classification task "
                "needs at least 2 (pass --regression for a numeric target)"
            )
        return custom_task(name, self.text_columns, tuple(sorted(seen, key=_sort_key)))

    def fingerprint(self, task: Task) -> str:
        h = hashlib.sha256(f"{self!r}:{task}".encode())
        for path in self.files.values():
            stat = path.stat()
            h.update(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        return h.hexdigest()

    def load(self, task: Task) -> dict[str, datasets.Dataset]:
        return {
            split: build_split(task, split, read_rows(path), self.text_columns, self.label_column, None, str(path))
            for split, path in self.files.items()
        }
