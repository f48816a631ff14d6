"""The original GLUE TSV layout (``glue_data/<TASK>/{train,dev}.tsv``) and its quirks.

Quirks handled here, once: MRPC's files start with a UTF-8 BOM; quotes in the text
are literal (``"`` is often unbalanced), so files are read with
``quoting=csv.QUOTE_NONE``; CoLA's files have no header; MNLI has two dev sets;
and the TSV column names and label spellings differ from the hub's.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import datasets

from raydim.data.examples import Row, build_split
from raydim.data.tasks import Task
from raydim.data.utf8 import utf8_lines
from raydim.errors import RaydimError


@dataclass(frozen=True)
class TsvLayout:
    """Where one GLUE task lives in the TSV layout and how its columns are spelled."""

    dirname: str
    files: dict[str, str]  # split -> file name inside dirname
    text_columns: tuple[str, ...]  # raw columns, in the order of Task.text_fields
    label_column: str
    label_values: tuple[str, ...] | None  # raw label spelling of each class id; None: regression
    header: tuple[str, ...] | None = None  # column names to assume for files without a header row


_DEV = {"train": "train.tsv", "validation": "dev.tsv"}
_BINARY = ("0", "1")
_NLI2 = ("entailment", "not_entailment")

GLUE_TSV_LAYOUTS: dict[str, TsvLayout] = {
    "cola": TsvLayout("CoLA", _DEV, ("sentence",), "label", _BINARY,
                      header=("source", "label", "original_label", "sentence")),
    "sst2": TsvLayout("SST-2", _DEV, ("sentence",), "label", _BINARY),
    "mrpc": TsvLayout("MRPC", _DEV, ("#1 String", "#2 String"), "Quality", _BINARY),
    "qqp": TsvLayout("QQP", _DEV, ("question1", "question2"), "is_duplicate", _BINARY),
    "stsb": TsvLayout("STS-B", _DEV, ("sentence1", "sentence2"), "score", None),
    "mnli": TsvLayout("MNLI", {"train": "train.tsv", "validation_matched": "dev_matched.tsv",
                               "validation_mismatched": "dev_mismatched.tsv"},
                      ("sentence1", "sentence2"), "gold_label", ("entailment", "neutral", "contradiction")),
    "qnli": TsvLayout("QNLI", _DEV, ("question", "sentence"), "label", _NLI2),
    "rte": TsvLayout("RTE", _DEV, ("sentence1", "sentence2"), "label", _NLI2),
    "wnli": TsvLayout("WNLI", _DEV, ("sentence1", "sentence2"), "label", _BINARY),
}


def read_tsv(path: Path, header: tuple[str, ...] | None = None) -> Iterator[Row]:
    """Yield ``("file:line", {column: value})`` for every data row of a GLUE TSV file.

    A row whose field count differs from the header's, or a byte that is not
    UTF-8, is an error naming the line: with QUOTE_NONE that can only mean a
    damaged (or re-encoded) file.
    """
    reader = csv.reader(utf8_lines(path), delimiter="\t", quoting=csv.QUOTE_NONE)
    columns = header
    for fields in reader:
        if not fields:
            continue  # blank line, e.g. a doubled trailing newline
        location = f"{path}:{reader.line_num}"
        if columns is None:
            columns = tuple(fields)
            continue
        if len(fields) != len(columns):
            raise RaydimError(
                f"{location}: malformed row with {len(fields)} tab-separated fields, expected {len(columns)} "
                f"({', '.join(columns)}); fix or remove that line"
            )
        yield location, dict(zip(columns, fields))


class GlueTsvSource:
    """GLUE tasks read from a local ``glue_data`` folder with one subfolder per task."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise RaydimError(
                f"data directory {str(self.root)!r} does not exist; pass --data-dir with the folder that holds "
                "the GLUE task folders (e.g. DIR/MRPC/train.tsv)"
            )

    def __repr__(self) -> str:
        return f"glue-tsv:{self.root}"

    def _files(self, task: Task) -> dict[str, Path]:
        layout = GLUE_TSV_LAYOUTS[task.name]
        folder = self.root / layout.dirname
        if not folder.is_dir():
            present = sorted(p.name for p in self.root.iterdir() if p.is_dir())
            raise RaydimError(
                f"data directory {str(self.root)!r} has no {layout.dirname}/ folder for task {task.name!r} "
                f"(it has: {', '.join(present) or 'no folders'}); point --data-dir at the GLUE root folder"
            )
        files = {split: folder / name for split, name in layout.files.items()}
        for split, path in files.items():
            if not path.is_file():
                raise RaydimError(f"task {task.name!r}: split {split!r} is missing: no file {str(path)!r}")
        return files

    def fingerprint(self, task: Task) -> str:
        """Changes whenever a file that would be read changes (path, size, modification time)."""
        h = hashlib.sha256(repr(self).encode())
        for split, path in self._files(task).items():
            stat = path.stat()
            h.update(f"{split}:{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        return h.hexdigest()

    def load(self, task: Task) -> dict[str, datasets.Dataset]:
        layout = GLUE_TSV_LAYOUTS[task.name]
        return {
            split: build_split(task, split, read_tsv(path, layout.header), layout.text_columns, layout.label_column,
                               layout.label_values, str(path))
            for split, path in self._files(task).items()
        }
