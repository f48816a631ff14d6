"""Driving the ``raydim`` command as a user would, and what every user mistake must look like."""

from __future__ import annotations

import pytest


def run_cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    """``raydim ARGV...`` in this process: exit code, stdout, stderr."""
    from raydim.cli import main

    try:
        code = main(list(argv))
    except SystemExit as e:  # argparse's own usage errors
        code = int(e.code)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(capsys: pytest.CaptureFixture, argv: list[str], message: str) -> str:
    """``raydim ARGV...`` ends with exit code 2 and one line on stderr, ``message`` in it, no traceback."""
    code, _, err = run_cli(capsys, *argv)
    assert code == 2, err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err.strip()

