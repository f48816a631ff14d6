"""The CLI: listings, and one-line errors with exit code 2 for every bad input."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli import assert_one_line_error, run_cli as run
from tests.data.glue_fixtures import write_glue


def test_tasks_lists_every_glue_task_with_its_primary_metric(capsys) -> None:
    code, out, _ = run(capsys, "tasks")
    assert code == 0
    for line in ("cola ", "matthews_correlation*", "stsb ", "pearson*", "validation_matched, validation_mismatched"):
        assert line in out


def test_tasks_describes_mrpc_with_its_trivial_baseline(capsys, glue_dir: Path) -> None:
    code, out, _ = run(capsys, "tasks", "--task", "mrpc", "--data-dir", str(glue_dir))
    assert code == 0
    assert "train       3668  not_equivalent:1194 / equivalent:2474" in out
    assert "validation  408   not_equivalent:129 / equivalent:279    accuracy=0.6838, f1=0.8122" in out


def test_tasks_describes_a_custom_task(capsys, tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("text,label\ngood,pos\nbad,neg\nok,pos\n")
    code, out, _ = run(capsys, "tasks", "--task", "mine", "--train-file", str(tmp_path / "t.csv"),
                       "--eval-file", str(tmp_path / "t.csv"), "--text-columns", "text")
    assert code == 0 and "neg:1 / pos:2" in out and "accuracy=0.6667" in out


def test_models_lists_aliases_with_parameter_counts(capsys) -> None:
    code, out, _ = run(capsys, "models")
    assert code == 0 and "minilm-l6" in out and "22,713,986" in out and "355,361,794" in out
    code, out, _ = run(capsys, "models", "minilm-l6@random-init", "--num-labels", "3")
    assert code == 0 and "random-init" in out and "22,714,371" in out


@pytest.mark.parametrize("argv, message", [
    (["tasks", "--task", "nope"], "unknown task 'nope'; known tasks: cola, sst2"),
    (["tasks", "--task", "mrpc", "--data-dir", "/no/such/dir"], "data directory '/no/such/dir' does not exist"),
    (["tasks", "--task", "rte"], "cannot load GLUE task 'rte' from the Hugging Face hub"),
    (["tasks", "--task", "x", "--train-file", "a.csv"], "needs all of --train-file, --eval-file and --text-columns"),
    (["models", "/no/such/model"], "model path '/no/such/model' does not exist"),
    (["models", "org/unreachable"], "cannot load the config of model 'org/unreachable'"),
    (["tasks", "--bogus"], "unrecognized arguments: --bogus"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["status", "--storage", "/no/such/dir"], "no searches in the results store at /no/such/dir/raydim-store; "
                                              "start one with raydim search, or pass --storage where it ran"),
    (["status", "--watch", "0"], "--watch 0 must be > 0 seconds between prints"),
    (["status", "--watch", "soon"], "argument --watch: invalid float value: 'soon'"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv: list[str], message: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    (["train", "--threads", "0"], "argument --threads: must be a positive integer, got 0"),
    (["train", "--threads", "-2"], "argument --threads: must be a positive integer, got -2"),
    (["train", "--threads", "two"], "argument --threads: invalid int value: 'two'"),
    (["models", "--num-labels", "0"], "argument --num-labels: must be a positive integer, got 0"),
    (["train", "--method", "full", "--data-seed", "-1"], "the data seed must be >= 0, got -1"),
    (["train", "--method", "full", "--weight-decay", "-1"], "weight_decay must be >= 0, got -1.0"),
    (["search", "--cpus-per-trial", "-1"], "cpus_per_trial=-1.0 must be > 0"),
    (["search", "--max-concurrent", "0"], "max_concurrent=0 must be a positive integer"),
])
def test_counts_below_one_are_refused_not_clamped(capsys, argv: list[str], message: str, tmp_path, no_ray) -> None:
    assert_one_line_error(capsys, [*argv, "--storage", str(tmp_path)] if argv[0] == "search" else argv, message)


def test_bad_rows_are_reported_through_the_cli(capsys, tmp_path: Path) -> None:
    root = write_glue(tmp_path)
    (root / "RTE" / "dev.tsv").write_text("index\tsentence1\tsentence2\tlabel\n0\ta\tb\tyes\n")
    code, _, err = run(capsys, "tasks", "--task", "rte", "--data-dir", str(root))
    assert code == 2 and "RTE/dev.tsv:2: unknown label 'yes'" in err


def test_console_script_is_installed() -> None:
    script = shutil.which("raydim")
    assert script is not None, "the raydim console script is not on PATH: install with pip install -e '.[test]'"
    result = subprocess.run([script, "tasks", "--task", "nope"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.startswith("raydim: error: unknown task 'nope'")
