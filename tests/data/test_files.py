"""Custom tasks from CSV, TSV, JSON Lines and Parquet files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from raydim.data import FileSource, load_task_data
from raydim.errors import RaydimError

ROWS = [{"text": 'good, "great"', "other": "x", "y": "pos"}, {"text": "bad", "other": "y", "y": "neg"},
        {"text": "fine", "other": "z", "y": "pos"}]


def _write(path: Path, rows: list[dict]) -> Path:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif path.suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    elif path.suffix == ".tsv":  # quotes stay literal, as in GLUE's files
        path.write_text("".join("\t".join(map(str, r)) + "\n" for r in [rows[0].keys(), *[r.values() for r in rows]]))
    else:
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_every_file_kind_loads_the_same_rows(tmp_path: Path, suffix: str) -> None:
    source = FileSource(_write(tmp_path / f"train{suffix}", ROWS), _write(tmp_path / f"dev{suffix}", ROWS[:2]),
                        ("text",), "y")
    task = source.infer_task("sentiment")
    assert task.labels == ("neg", "pos") and task.primary_metric == "accuracy" and "f1" in task.metrics
    data = load_task_data(task, source=source)
    assert data.splits["train"].to_list() == [{"text": 'good, "great"', "label": 1}, {"text": "bad", "label": 0},
                                               {"text": "fine", "label": 1}]
    assert len(data.splits["validation"]) == 2


def test_regression_and_numeric_label_order(tmp_path: Path) -> None:
    rows = [{"a": "x", "b": "y", "s": 0.5}, {"a": "p", "b": "q", "s": 2}]
    source = FileSource(_write(tmp_path / "t.jsonl", rows), _write(tmp_path / "d.jsonl", rows), ("a", "b"), "s")
    task = source.infer_task("sim", regression=True)
    assert task.is_regression and task.primary_metric == "pearson"
    assert load_task_data(task, source=source).splits["train"]["label"] == pytest.approx([0.5, 2.0])
    numeric = [{"t": "a", "y": 10}, {"t": "b", "y": 9}, {"t": "c", "y": 2}]
    src = FileSource(_write(tmp_path / "n.jsonl", numeric), _write(tmp_path / "m.jsonl", numeric), ("t",), "y")
    assert src.infer_task("n").labels == ("2", "9", "10")


def test_eval_label_unseen_in_train_names_the_line(tmp_path: Path) -> None:
    dev = _write(tmp_path / "dev.csv", [*ROWS, {"text": "meh", "other": "w", "y": "neutral"}])
    source = FileSource(_write(tmp_path / "train.csv", ROWS), dev, ("text",), "y")
    with pytest.raises(RaydimError, match=r"dev\.csv:5: unknown label 'neutral'"):
        load_task_data(source.infer_task("s"), source=source)


def test_bad_files_are_clear_errors(tmp_path: Path) -> None:
    train = _write(tmp_path / "train.jsonl", ROWS)
    with pytest.raises(RaydimError, match="does not exist"):
        FileSource(train, tmp_path / "missing.jsonl", ("text",), "y")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(RaydimError, match="unknown kind"):
        FileSource(train, tmp_path / "x.txt", ("text",), "y")
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(ROWS[0]) + "\n{not json\n")
    with pytest.raises(RaydimError, match=r"broken\.jsonl:2: malformed JSON line"):
        load_task_data(FileSource(train, broken, ("text",), "y").infer_task("s"),
                       source=FileSource(train, broken, ("text",), "y"))
    with pytest.raises(RaydimError, match="no column 'missing'"):
        src = FileSource(train, train, ("missing",), "y")
        load_task_data(src.infer_task("s"), source=src)
    with pytest.raises(RaydimError, match="clashes with the GLUE task"):
        FileSource(train, train, ("text",), "y").infer_task("mrpc")
    one_label = _write(tmp_path / "one.jsonl", [ROWS[0]])
    with pytest.raises(RaydimError, match="1 distinct label"):
        FileSource(one_label, one_label, ("text",), "y").infer_task("s")
