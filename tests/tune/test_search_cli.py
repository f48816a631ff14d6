"""`raydim search` end to end: a tiny pre-trained model on generated data, through the real trainable on a
real local Ray, to a d90 table and a JSON file; stopped by Ctrl-C and resumed; and its mistakes as one-line
errors."""

import json
import signal
import subprocess
import sys
import time

import pytest

from raydim.store import ResultsStore
from raydim.store.manifest import read_manifests

from raydim.cli import main
from tests.conftest import repo_env
from tests.tiny import write_sentiment_task, write_tiny_model_dir

SPACE = """\
# raydim search --space space.yaml
tasks: [sentiment]
models: [{model}]
methods: [said]
data: {{train_file: {train}, eval_file: {eval}, text_columns: [text]}}
train: {{epochs: 2, batch_size: 16, max_length: 16, train_eval_samples: 64}}
search: {{d_min: 6, d_max: 1024, baseline_lrs: [0.01], lr_low: 0.01, lr_high: 1.0, lr_init: 0.3, max_trials: 16}}
resources: {{cpus_per_trial: 1}}
"""

# What Tune prints of its own at a run's start, which raydim's launch lines replace
TUNE_BANNER = ("Number of trials", "View detailed results here", "tensorboard --logdir", "Trial status")


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    root = tmp_path_factory.mktemp("search-cli")
    train_file, eval_file = write_sentiment_task(root / "data")
    model = write_tiny_model_dir(root / "model")
    path = root / "space.yaml"
    path.write_text(SPACE.format(model=model, train=train_file, eval=eval_file))
    return path


def test_search_finds_d90_of_a_tiny_model(ray_cluster, space, tmp_path, capsys):
    output = tmp_path / "d90.json"
    code = main(["search", "--space", str(space), "--storage", str(tmp_path / "runs"), "--name", "tiny",
                 "--output", str(output)])
    out = capsys.readouterr().out
    assert code == 0
    assert "raydim: search 'tiny' of 1 key(s) with" in out and "2 trial slot(s)" in out  # what it runs, at once
    assert "search progress" in out and "finished" in out  # live progress per key
    assert not any(banner in out for banner in TUNE_BANNER)  # raydim's lines, not Tune's
    assert out.splitlines()[-2].split()[-1] == "compute" and out.splitlines()[-1].endswith("CPU-h")
    assert list(read_manifests(ResultsStore.at(str(tmp_path / "runs")))) == ["tiny"]
    [result] = json.loads(output.read_text())
    assert result["status"] == "found" and result["task"] == "sentiment" and result["method"] == "said"
    assert 6 < result["d90"] <= 1024 and result["d90_low"] < result["d90_high"]
    assert result["threshold"] == pytest.approx(0.9 * result["baseline"]) and result["baseline"] > 0.7
    assert f"{result['d90']:.0f}" in out.splitlines()[-1]  # the d90 table closes the output

    code = main(["search", "--space", str(space), "--storage", str(tmp_path / "runs"), "--name", "tiny"])
    assert code == 2
    assert "a search named 'tiny' already exists" in capsys.readouterr().err


@pytest.mark.slow
def test_ctrl_c_ends_with_the_keys_interrupted_and_the_raydim_resume_command(ray_cluster, space, tmp_path, capsys):
    """A real SIGINT to `raydim search` while a trial runs: the table says `interrupted` (not `budget_exhausted`,
    though the running trial is the key's last), stderr gives the raydim command that resumes, not Tune's
    `Tuner.restore(...)`, exit code 130; that command then finishes the search."""
    storage = tmp_path / "runs"
    # without early stopping: the subspace trial proposed beside the full fine-tune would stop at the pass level the
    # driver publishes when that ends, and the search could finish before the signal lands
    running = tmp_path / "space.yaml"
    running.write_text(space.read_text().replace("max_trials: 16}", "max_trials: 16, early_stop: false}"))
    env = repo_env()
    search = subprocess.Popen([sys.executable, "-m", "raydim.cli", "search", "--space", str(running), "--name", "ctrl-c",
                               "--storage", str(storage), "--address", ray_cluster, "--max-trials", "2",
                               "--epochs", "12"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    store, deadline = ResultsStore.at(str(storage)), time.monotonic() + 300
    # the full fine-tune has ended: the key's second and last trial is running, for 12 epochs (at 4, on a quiet
    # machine, it once ended while Tune stopped, and the search, rightly, finished with exit code 0)
    while not store.exists():
        assert search.poll() is None and time.monotonic() < deadline, search.communicate()
        time.sleep(0.1)
    search.send_signal(signal.SIGINT)
    out, err = search.communicate(timeout=120)
    assert search.returncode == 130, err
    table = out.split("d90")[-1]
    assert "interrupted" in table and "budget_exhausted" not in table and "incomplete" in table
    command = f"raydim search --name ctrl-c --storage {storage} --address {ray_cluster} --resume"
    assert f"raydim: search 'ctrl-c' interrupted; continue it with: {command}" in err
    assert "Tuner.restore" not in err and "Traceback" not in err
    assert not any(banner in out + err for banner in TUNE_BANNER)

    assert main(command.split()[1:]) == 0
    out = capsys.readouterr().out
    assert "interrupted" not in out and len(store.rows("ctrl-c")) == 2


@pytest.mark.parametrize("argv, message", [
    (["--task", "mrpcc"], "unknown task 'mrpcc'"),
    (["--epochs", "0", "--ratio", "2"], "epochs must be positive, got 0; invalid search settings: ratio=2.0"),
    (["--space", "missing.yaml"], "cannot read search space missing.yaml"),
    (["--baseline", "mrpc"], "--baseline 'mrpc' must be TASK=METRIC"),
    (["--data-dir", "/no/such/dir"], "data directory '/no/such/dir' does not exist"),
    (["--method", "full"], "argument --method: invalid choice: 'full'"),
    (["--resume", "--name", "never-started"], "nothing to resume at"),
    (["--resume", "--name", "x", "--epochs", "3", "--data-dir", "GLUE"],
     "--data-dir, --epochs would be ignored: --resume continues the run"),
])
def test_search_mistakes_are_one_line_errors(argv, message, capsys, tmp_path, glue_dir, monkeypatch):
    argv = [str(glue_dir) if a == "GLUE" else a for a in argv]
    monkeypatch.setattr("ray.init", lambda **kwargs: None)  # a mistake must be found before Ray is needed
    with pytest.raises(SystemExit) if "--method" in argv else _no_exit() as exit_info:
        code = main(["search", "--storage", str(tmp_path), *argv])
    code = exit_info.value.code if exit_info else code
    # a worker of an earlier test's Ray run may still forward its log lines ("(fine_tune pid=…) …") here
    err = "\n".join(line for line in capsys.readouterr().err.strip().splitlines() if "pid=" not in line)
    assert code == 2 and message in err and len(err.splitlines()) == 1 and "Traceback" not in err


class _no_exit:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def test_command_line_training_options_reach_every_trial():
    from raydim.cli import build_parser, search_spec_from_args

    args = build_parser().parse_args(["search", "--epochs", "2", "--group-by-length", "--max-trials", "5"])
    spec = search_spec_from_args(args)
    assert spec.train["epochs"] == 2 and spec.train["group_by_length"] is True
    assert spec.search["max_trials"] == 5 and spec.search["lr_scaling"] == 0.5  # the rest: the quick profile
