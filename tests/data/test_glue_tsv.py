"""GLUE TSV layout: the real MRPC files and a fixture for every other task's quirks."""

from __future__ import annotations

from pathlib import Path

import pytest

from raydim.data import GLUE_TASKS, load_task_data
from raydim.errors import RaydimError
from tests.data.glue_fixtures import BOM, FILES, write_glue


def test_mrpc_real_counts_and_labels(glue_dir: Path) -> None:
    data = load_task_data("mrpc", data_dir=glue_dir)
    assert len(data.splits["train"]) == 3668
    assert len(data.splits["validation"]) == 408
    assert data.label_counts("train") == {"not_equivalent": 1194, "equivalent": 2474}
    assert data.label_counts("validation") == {"not_equivalent": 129, "equivalent": 279}
    first = data.splits["validation"][0]
    assert first["sentence1"].startswith("He said the foodservice pie business")
    assert first["sentence2"].startswith('" The foodservice pie business')  # a literal, unbalanced quote
    assert first["label"] == 1


def test_mrpc_real_trivial_baseline_is_majority_class(glue_dir: Path) -> None:
    baselines = load_task_data("mrpc", data_dir=glue_dir).trivial_baselines()
    assert baselines["validation"]["accuracy"] == pytest.approx(279 / 408)
    assert baselines["validation"]["f1"] == pytest.approx(2 * 279 / (279 + 408))
    assert baselines["train"]["accuracy"] == pytest.approx(2474 / 3668)


def test_env_var_names_the_data_dir(glue_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAYDIM_DATA_DIR", str(glue_dir))
    assert len(load_task_data("MRPC").splits["validation"]) == 408


@pytest.mark.parametrize("name", sorted(GLUE_TASKS))
def test_every_glue_layout_parses(tmp_path: Path, name: str) -> None:
    data = load_task_data(name, data_dir=write_glue(tmp_path))
    task = GLUE_TASKS[name]
    assert set(data.splits) == {"train", *task.eval_splits}
    for ds in data.splits.values():
        assert ds.column_names == [*task.text_fields, "label"]
        assert len(ds) > 0


def test_cola_has_no_header_row(tmp_path: Path) -> None:
    train = load_task_data("cola", data_dir=write_glue(tmp_path)).splits["train"]
    assert len(train) == 3  # the first line is data, not a header
    assert train[0] == {"sentence": "Our friends won't buy this analysis.", "label": 1}


def test_mnli_two_dev_sets_and_string_labels(tmp_path: Path) -> None:
    data = load_task_data("mnli", data_dir=write_glue(tmp_path))
    assert len(data.splits["validation_matched"]) == 1
    assert data.splits["validation_mismatched"]["label"] == [2, 0]  # contradiction, entailment
    assert data.splits["train"][0]["premise"] == "Conceptually cream skimming."


def test_stsb_is_regression(tmp_path: Path) -> None:
    train = load_task_data("stsb", data_dir=write_glue(tmp_path)).splits["train"]
    assert train["label"] == pytest.approx([5.0, 3.8])
    assert train[1]["sentence2"] == 'A man plays a "flute.'


def test_bom_does_not_leak_into_columns(tmp_path: Path) -> None:
    train = load_task_data("mrpc", data_dir=write_glue(tmp_path)).splits["train"]
    assert train["label"] == [1, 0]
    assert not any(BOM in s for s in train["sentence1"])


def test_subsampling_is_deterministic_by_seed(glue_dir: Path) -> None:
    a = load_task_data("mrpc", data_dir=glue_dir, max_train_samples=100, max_eval_samples=50, seed=3)
    b = load_task_data("mrpc", data_dir=glue_dir, max_train_samples=100, max_eval_samples=50, seed=3)
    c = load_task_data("mrpc", data_dir=glue_dir, max_train_samples=100, max_eval_samples=50, seed=4)
    assert len(a.splits["train"]) == 100 and len(a.splits["validation"]) == 50
    assert a.splits["train"]["sentence1"] == b.splits["train"]["sentence1"]
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert a.splits["train"]["sentence1"] != c.splits["train"]["sentence1"]


def _broken(tmp_path: Path, dirname: str, filename: str, content: str) -> Path:
    return write_glue(tmp_path, {**FILES, dirname: {**FILES[dirname], filename: content}})


def test_malformed_row_names_file_and_line(tmp_path: Path) -> None:
    root = _broken(tmp_path, "RTE", "dev.tsv", "index\tsentence1\tsentence2\tlabel\n0\tok\tok\tentailment\n1\tonly two\n")
    with pytest.raises(RaydimError, match=r"RTE/dev\.tsv:3: malformed row with 2 tab-separated fields, expected 4"):
        load_task_data("rte", data_dir=root)


def test_unknown_label_names_file_and_line(tmp_path: Path) -> None:
    root = _broken(tmp_path, "QNLI", "train.tsv", "index\tquestion\tsentence\tlabel\n0\tq\ts\tmaybe\n")
    with pytest.raises(RaydimError, match=r"QNLI/train\.tsv:2: unknown label 'maybe'.*entailment, not_entailment"):
        load_task_data("qnli", data_dir=root)


def test_empty_split_is_an_error(tmp_path: Path) -> None:
    root = _broken(tmp_path, "WNLI", "dev.tsv", "index\tsentence1\tsentence2\tlabel\n")
    with pytest.raises(RaydimError, match="split 'validation' of task 'wnli' is empty"):
        load_task_data("wnli", data_dir=root)


def test_missing_split_file_is_an_error(tmp_path: Path) -> None:
    root = write_glue(tmp_path)
    (root / "MNLI" / "dev_mismatched.tsv").unlink()
    with pytest.raises(RaydimError, match="split 'validation_mismatched' is missing"):
        load_task_data("mnli", data_dir=root)


def test_missing_data_dir_and_task_folder(tmp_path: Path) -> None:
    with pytest.raises(RaydimError, match="does not exist"):
        load_task_data("mrpc", data_dir=tmp_path / "nope")
    with pytest.raises(RaydimError, match=r"has no CoLA/ folder.*it has: MRPC"):
        load_task_data("cola", data_dir=write_glue(tmp_path, {"MRPC": FILES["MRPC"]}))


def test_unknown_task_lists_known_ones() -> None:
    with pytest.raises(RaydimError, match="unknown task 'mrpcc'; known tasks: cola, sst2, mrpc"):
        load_task_data("mrpcc")


def test_edited_file_is_reread(tmp_path: Path) -> None:
    root = write_glue(tmp_path)
    assert len(load_task_data("rte", data_dir=root).splits["train"]) == 2
    path = root / "RTE" / "train.tsv"
    path.write_text(path.read_text() + "2\tA.\tB.\tentailment\n")
    assert len(load_task_data("rte", data_dir=root).splits["train"]) == 3
