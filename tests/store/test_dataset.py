"""The store on disk: atomic part files, deduplicated reads, and two writers at once."""

import datetime as dt
import multiprocessing

import pytest

import raydim.store.dataset
from raydim.store import ResultsStore, storage_folder, store_uri
from tests.store.rows import trial_row


def test_write_then_read(tmp_path):
    store = ResultsStore(str(tmp_path / "store"))
    assert not store.exists() and store.table().empty and list(store.table().columns)[:2] == ["experiment", "trial_id"]
    store.write([trial_row(trial_id="t1"), trial_row(trial_id="t2", experiment="other")])
    store.write([trial_row(trial_id="t3")])
    assert len(store.parts()) == 2
    assert sorted(store.table()["trial_id"]) == ["t1", "t2", "t3"]
    assert store.table("exp")["metrics"][0] == {"validation/accuracy": 0.75, "train/accuracy": 0.8}
    assert store.experiments() == ["exp", "other"]
    assert store.rows("other") == [trial_row(trial_id="t2", experiment="other")]


def test_store_lives_beside_the_runs_of_a_storage(tmp_path):
    assert store_uri(str(tmp_path)) == f"{tmp_path}/raydim-store"
    assert ResultsStore.at(str(tmp_path)).root == str(tmp_path / "raydim-store")
    assert storage_folder(f"{tmp_path}/", "my-search") == f"{tmp_path}/my-search"


def test_rewritten_trials_count_once_newest_kept(tmp_path):
    store = ResultsStore(str(tmp_path))
    first = trial_row(primary=0.70)
    later = trial_row(primary=0.72, finished_at=first.finished_at + dt.timedelta(minutes=5))
    store.write([later])
    store.write([first, trial_row(attempt=1)])  # a restore writes t1 again; its rerun is another row
    table = store.table()
    assert len(table) == 2
    assert table.set_index("attempt").loc[0, "primary"] == 0.72


def test_crash_mid_write_leaves_the_store_readable(tmp_path, monkeypatch):
    store = ResultsStore(str(tmp_path))
    store.write([trial_row(trial_id="kept")])

    def dies_half_way(table, sink):
        sink.write(b"PAR1 half a file")
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(raydim.store.dataset.pq, "write_table", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        store.write([trial_row(trial_id="lost")])
    (tmp_path / "trials" / ".part-20260101T000000000000-dead.parquet.tmp").write_bytes(b"PAR1 a killed writer's")
    assert list(store.table()["trial_id"]) == ["kept"]
    assert len(list((tmp_path / "trials").iterdir())) == 2  # the failed write cleaned up; the killed one is ignored


def write_many(root: str, experiment: str, n: int) -> None:
    store = ResultsStore(root)
    for i in range(n):
        store.write([trial_row(experiment=experiment, trial_id=f"t{i}")])


def test_two_writers_at_once_lose_nothing(tmp_path):
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.starmap(write_many, [(str(tmp_path), "a", 15), (str(tmp_path), "b", 15)])
    table = ResultsStore(str(tmp_path)).table()
    assert len(table) == 30 and table.groupby("experiment").size().to_dict() == {"a": 15, "b": 15}
