"""studies/recheck_collapse.py: trials stored before the collapse rule, replayed through it from Tune's run folder."""

import json

from raydim.store import ResultsStore
from studies.recheck_collapse import main
from tests.store.rows import trial_row

# MPNet SAID on SST-2, d = 100, lr 1.0: the study's stored trial, its epochs as Tune's result.json holds them
LOSSES, DEV = (0.5775, 0.6930, 0.6901), (0.665, 0.509, 0.509)


def _trial_folder(run_folder, trial_id, losses, glue_dir):
    folder = run_folder / f"sst2_said_d100_lr1_s0_{trial_id}"
    folder.mkdir(parents=True)
    data = {"sst2": {"task": "sst2", "data_dir": str(glue_dir), "max_train_samples": 8000, "seed": 0}}
    config = {"task": "sst2", "model": "mpnet-base", "checkpoint": "final", "method": "said", "d": 100, "lr": 1.0,
              "seed": 0, "attempt": 0, "retry_of": None, "trial_id": trial_id,
              "template": {"data": data, "train": {"epochs": 3, "batch_size": 32}}}
    (folder / "params.json").write_text(json.dumps(config))
    reports = [{"epoch": i + 1, "step": 250 * (i + 1), "train_loss": loss, "primary": dev, "score": DEV[0]}
               for i, (loss, dev) in enumerate(zip(losses, DEV))]
    (folder / "result.json").write_text("".join(json.dumps(r) + "\n" for r in reports))


def test_a_stored_trial_that_collapsed_is_superseded_by_the_diverged_row_the_rule_writes(tmp_path, glue_dir, capsys):
    store = ResultsStore.at(str(tmp_path))
    rows = [trial_row(experiment="exp", trial_id=t, task="sst2", model="mpnet-base", d=100, lr=1.0, primary=DEV[0],
                      epochs=3) for t in ("t1", "t2")]
    store.write(rows)
    _trial_folder(tmp_path / "exp", "t1", LOSSES, glue_dir)
    _trial_folder(tmp_path / "exp", "t2", (0.5775, 0.52, 0.50), glue_dir)  # kept learning: not touched

    assert main(["--storage", str(tmp_path), "--name", "exp"]) == 0  # without --write: prints, stores nothing
    out = capsys.readouterr().out
    assert "t1 mpnet-base d=100" in out and "entropy 0.6879" in out and "2 trial(s) checked, 1 collapsed" in out
    assert [r.status for r in store.rows("exp")] == ["completed", "completed"]

    assert main(["--storage", str(tmp_path), "--name", "exp", "--write"]) == 0
    stored = {r.trial_id: r for r in store.rows("exp")}
    assert len(stored) == 2 and stored["t2"] == rows[1]
    assert (stored["t1"].status, stored["t1"].primary, stored["t1"].finished_at) == ("error", None,
                                                                                       rows[0].finished_at)
    assert stored["t1"].diverged() and "at epoch 2" in stored["t1"].error


def test_no_run_folder_is_a_one_line_error(tmp_path, capsys):
    assert main(["--storage", str(tmp_path), "--name", "gone"]) == 2
    assert "no Tune run folder" in capsys.readouterr().err


def test_a_trial_whose_data_is_gone_is_a_one_line_error(tmp_path, capsys):
    """The label prior comes from the rows the trial trained on: a data folder moved since is said, not a traceback."""
    store = ResultsStore.at(str(tmp_path))
    store.write([trial_row(experiment="exp", trial_id="t1", task="sst2", model="mpnet-base", d=100, lr=1.0)])
    _trial_folder(tmp_path / "exp", "t1", LOSSES, tmp_path / "moved")
    assert main(["--storage", str(tmp_path), "--name", "exp"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("recheck_collapse: ") and len(err.strip().splitlines()) == 1
