"""Every output of every command is checked before the work: storage and --output of search, --output of train,
--figures of report; a place that cannot be written is one line, nothing is created, Ray never starts."""

from __future__ import annotations

import pytest

from tests.cli import assert_one_line_error, run_cli

UNREACHABLE_BUCKET = "s3://bucket/runs?endpoint_override=127.0.0.1:1&scheme=http&region=us-east-1"


@pytest.fixture
def places(tmp_path):
    """Paths that cannot be written: under a regular file, in a virtual filesystem (/proc takes no new files,
    for root too), a bucket nothing answers for."""
    (tmp_path / "file").write_text("")
    return {"UNDER_FILE": str(tmp_path / "file" / "sub"), "VIRTUAL": "/proc/raydim-test", "BUCKET": UNREACHABLE_BUCKET}


@pytest.mark.parametrize("storage, message", [
    ("UNDER_FILE", "--storage 'UNDER_FILE' cannot be written: TMP/file is a file, not a folder"),
    ("VIRTUAL", "--storage '/proc/raydim-test' cannot be written: /proc takes no new files"),
    ("BUCKET", f"--storage {UNREACHABLE_BUCKET} cannot be reached (When getting information"),
])
def test_search_refuses_storage_it_cannot_use_before_ray_starts(storage, message, places, tmp_path, glue_dir,
                                                                 capsys, no_ray):
    message = message.replace("UNDER_FILE", places["UNDER_FILE"]).replace("TMP", str(tmp_path))
    assert_one_line_error(capsys, ["search", "--data-dir", str(glue_dir), "--storage", places[storage]], message)
    assert not (tmp_path / "file").is_dir()


@pytest.mark.parametrize("argv, message", [
    (["train", "--method", "full", "--output", "UNDER_FILE"], "--output 'UNDER_FILE' cannot be written: TMP/file is a file"),
    (["train", "--method", "full", "--output", "VIRTUAL"], "--output '/proc/raydim-test' cannot be written: /proc takes no new files"),
    (["train", "--method", "full", "--output", "TMP"], "--output 'TMP' is a folder; name a file"),
    (["search", "--storage", "TMP/runs", "--output", "UNDER_FILE"], "--output 'UNDER_FILE' cannot be written"),
    (["search", "--storage", "TMP/runs", "--output", "VIRTUAL"], "--output '/proc/raydim-test' cannot be written"),
    (["report", "--storage", "TMP", "--figures", "UNDER_FILE"], "--figures 'UNDER_FILE' cannot be written"),
    (["report", "--storage", "TMP", "--figures", "VIRTUAL"], "--figures '/proc/raydim-test' cannot be written"),
    (["report", "--storage", "TMP", "--figures", "TMP/file"], "--figures 'TMP/file' is a file; name a folder"),
])
def test_every_output_is_checked_before_the_work(argv, message, places, tmp_path, glue_dir, capsys, no_ray):
    def fill(text: str) -> str:
        return places.get(text) or text.replace("UNDER_FILE", places["UNDER_FILE"]).replace("TMP", str(tmp_path))

    command = [fill(a) for a in argv] + ["--data-dir", str(glue_dir)] * (argv[0] != "report")
    assert_one_line_error(capsys, command, fill(message))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # nothing written, no folder made


def test_an_output_that_fails_after_the_work_keeps_the_result_printed(tmp_path, glue_dir, capsys, monkeypatch):
    """The disk fills between the check and the end: one line, and the result stays on stdout."""
    import raydim.cli

    def full_disk(path, value):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(raydim.cli, "write_json_atomically", full_disk)
    code, out, err = run_cli(capsys, "train", "--method", "full", "--epochs", "1", "--max-train-samples", "16",
                             "--max-eval-samples", "16", "--quiet", "--data-dir", str(glue_dir),
                             "--output", str(tmp_path / "result.json"))
    assert code == 2 and "validation/accuracy" in out and "full d=" in out
    assert err.strip() == (f"raydim: error: cannot write --output {tmp_path / 'result.json'} (No space left on "
                           "device); the result is printed above")
