"""The hub source: same rows as the TSV source, and a clear error when offline."""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest

from raydim.data import GlueHubSource, load_task_data
from raydim.errors import RaydimError
from tests.data.glue_fixtures import write_glue


def _as_hub_would_serve(tsv: dict[str, datasets.Dataset], rename: dict[str, str]) -> datasets.DatasetDict:
    """The hub's shape: its own column order, an extra ``idx`` column, int ClassLabel features."""
    out = {}
    for split, ds in tsv.items():
        ds = ds.add_column("idx", list(range(len(ds))))
        out[split] = ds.select_columns(["idx", "label", *rename.values()])
    return datasets.DatasetDict(out)


@pytest.mark.parametrize("name", ["mrpc", "mnli", "stsb", "cola"])
def test_hub_and_tsv_give_the_same_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    tsv = load_task_data(name, data_dir=write_glue(tmp_path)).splits
    served = _as_hub_would_serve(tsv, {f: f for f in tsv["train"].column_names if f != "label"})
    calls = []

    def fake_load_dataset(path: str, config: str, revision: str | None = None) -> datasets.DatasetDict:
        calls.append((path, config, revision))
        return served

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    hub = load_task_data(name, source=GlueHubSource(revision="abc123")).splits
    assert calls == [("nyu-mll/glue", name, "abc123")]
    for split in tsv:
        assert hub[split].features == tsv[split].features
        assert hub[split].to_list() == tsv[split].to_list()


def test_offline_hub_says_how_to_use_local_files() -> None:
    with pytest.raises(RaydimError, match=r"cannot load GLUE task 'rte' from the Hugging Face hub.*--data-dir"):
        load_task_data("rte")
