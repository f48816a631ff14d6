"""No Ray cluster at --address: one line within a minute, not Ray's reconnect loop."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import pytest

from tests.cli import assert_one_line_error
from tests.conftest import repo_env


@pytest.mark.parametrize("address, message", [
    ("127.0.0.1:1", "no Ray cluster at --address 127.0.0.1:1 (Connection refused); start one there (ray start "
                    "--head), check the address, or drop --address to start Ray on this machine"),
    ("ray://127.0.0.1:1", "no Ray cluster at --address ray://127.0.0.1:1 (Connection refused)"),
    ("head-node", "--address 'head-node' is not HOST:PORT, ray://HOST:PORT or auto"),
])
def test_search_gives_up_at_once_where_no_cluster_listens(address, message, tmp_path, glue_dir, capsys, no_ray):
    started = time.monotonic()
    assert_one_line_error(capsys, ["search", "--data-dir", str(glue_dir), "--storage", str(tmp_path),
                                   "--address", address], message)
    assert time.monotonic() - started < 60


@pytest.mark.slow
def test_a_port_that_answers_but_is_not_ray_is_given_up_within_a_minute(tmp_path, glue_dir):
    """Something listens (it accepts, then says nothing): Ray's own wait, cut to one attempt. In a process of
    its own, as a user runs it (this one's Ray may already be up)."""
    server = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=lambda: [server.accept() for _ in range(100)], daemon=True).start()
    address = f"127.0.0.1:{server.getsockname()[1]}"
    env = repo_env()
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "raydim.cli", "search", "--data-dir", str(glue_dir), "--storage",
                           str(tmp_path), "--max-train-samples", "16", "--max-eval-samples", "16", "--address",
                           address], capture_output=True, text=True, timeout=120, env=env)
    assert time.monotonic() - started < 60
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"raydim: error: no Ray cluster at --address {address} ")
    server.close()
