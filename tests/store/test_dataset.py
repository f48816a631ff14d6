"""The store on disk: atomic part files, deduplicated reads, two writers at once, and damaged parts skipped."""

import datetime as dt
import multiprocessing
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import raydim.store.dataset
from raydim.errors import DamagedStoreWarning
from raydim.store import ResultsStore, storage_folder, store_uri
from raydim.tune import SearchSpec, load_searcher, run_search, simulated_trial
from tests.analysis.stores import scaling_store
from tests.cli import run_cli
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


def damage(trials: Path) -> list[str]:
    """Add the part files a full disk, a crash or a stray copy leave behind: truncated, zero bytes, not Parquet,
    Parquet of other columns; their names."""
    good = sorted(trials.glob("part-*.parquet"))[0].read_bytes()
    damaged = {"part-truncated.parquet": good[: len(good) // 2], "part-empty.parquet": b"",
               "part-garbage.parquet": b"not a parquet file\n" * 10}
    for name, data in damaged.items():
        (trials / name).write_bytes(data)
    pq.write_table(pa.table({"x": [1, 2]}), trials / "part-other-columns.parquet")
    return [*damaged, "part-other-columns.parquet"]


def test_damaged_parts_are_skipped_named_and_counted(tmp_path):
    store = ResultsStore(str(tmp_path))
    store.write([trial_row(trial_id="t1"), trial_row(trial_id="t2")])
    names = damage(tmp_path / "trials")
    with pytest.warns(DamagedStoreWarning) as caught:
        table = store.table()
    assert sorted(table["trial_id"]) == ["t1", "t2"]
    [warning] = caught
    message = str(warning.message)
    assert message.startswith(f"skipped 4 damaged part file(s) in {tmp_path}/trials, their rows not counted: ")
    assert all(name in message for name in names)
    assert "part-empty.parquet (Parquet file size is 0 bytes)" in message
    assert "part-other-columns.parquet (not a part of a results store: no experiment, trial_id" in message
    assert store.write([trial_row(trial_id="t3")])  # the store still takes new parts
    with pytest.warns(DamagedStoreWarning):
        assert sorted(store.table()["trial_id"]) == ["t1", "t2", "t3"]


@pytest.mark.parametrize("command", ["report", "status"])
def test_report_and_status_go_on_without_damaged_parts_with_one_warning(command, tmp_path, capsys):
    clean, damaged = tmp_path / "clean", tmp_path / "damaged"
    for storage in (clean, damaged):
        scaling_store(storage / "raydim-store")
    names = damage(damaged / "raydim-store" / "trials")
    code, expected, err = run_cli(capsys, command, "--storage", str(clean))
    assert code == 0 and err == ""
    code, out, err = run_cli(capsys, command, "--storage", str(damaged))
    assert code == 0 and out == expected  # every readable row, as if the damaged files were not there
    [line] = err.strip().splitlines()
    assert line.startswith("raydim: warning: skipped 4 damaged part file(s) in ")
    assert all(name in line for name in names) and "Traceback" not in err


@pytest.mark.parametrize("command, message", [
    ("report", "holds no readable row: its part files are damaged (named in the warning above)"),
    ("status", "no searches in the results store at"),
])
def test_a_store_of_damaged_parts_only_is_refused_after_the_warning(command, message, tmp_path, capsys):
    trials = Path(scaling_store(tmp_path / "raydim-store").root) / "trials"
    for part in trials.iterdir():
        part.write_bytes(b"")
    code, out, err = run_cli(capsys, command, "--storage", str(tmp_path))
    warning, error = err.strip().splitlines()
    assert code == 2 and out == "" and "Traceback" not in err
    assert warning.startswith("raydim: warning: skipped 4 damaged part file(s)") and message in error


@pytest.mark.slow
def test_a_search_into_a_damaged_store_keeps_every_new_row(ray_cluster, tmp_path):
    from tests.tune.test_tuner import CURVE_SPACE, SETTINGS, targets

    store = ResultsStore.at(str(tmp_path))
    store.write([trial_row(experiment="earlier")])
    damage(Path(store.root) / "trials")
    spec = SearchSpec(name="new", storage=str(tmp_path), max_concurrent=2, cpus_per_trial=0.5,
                      search=SETTINGS.to_dict())
    with pytest.warns(DamagedStoreWarning):
        run_search(spec, targets=targets(), trainable=simulated_trial, param_space=CURVE_SPACE, verbose=0)
        rows = store.rows("new")
    ran = load_searcher(str(tmp_path / "new")).policy.state_dict()["trials"]
    assert sorted(r.trial_id for r in rows) == sorted(t["request"]["trial_id"] for t in ran) and len(rows) > 10
