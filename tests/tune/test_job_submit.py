"""The cluster workflow on this machine: ``ray start --head``, then ``ray job submit -- raydim search ...`` with a
tiny model; the job succeeds and its trials are in the results store. The head is a Ray of its own (its own ports
and temp folder), stopped without ``ray stop``, which would also stop the tests' shared Ray."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from raydim.store import ResultsStore
from tests.tune.test_search_cli import space  # noqa: F401 - the fixture

PORTS = ("port", "dashboard-port", "ray-client-server-port", "dashboard-agent-listen-port",
         "dashboard-agent-grpc-port", "metrics-export-port", "runtime-env-agent-port", "node-manager-port",
         "object-manager-port")


def free_ports(n: int) -> list[int]:
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def job_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """``ray job ...``: the head started by ``ray start`` checks a token, which the CLI sends in token mode."""
    return subprocess.run(["ray", "job", *args], env={**os.environ, "RAY_AUTH_MODE": "token"}, capture_output=True,
                          text=True, **kwargs)


@pytest.fixture
def ray_head():
    """A head node started with ``ray start --head --block`` in a session of its own; yields the job server's
    address, then stops it (and anything of it still running)."""
    temp = tempfile.mkdtemp(prefix="rdh", dir="/tmp")  # short: Ray's socket paths must fit in 107 characters
    ports = dict(zip(PORTS, free_ports(len(PORTS)), strict=True))
    head = subprocess.Popen(["ray", "start", "--head", "--block", "--num-cpus=2", "--include-dashboard=true",
                             "--dashboard-host=127.0.0.1", f"--temp-dir={temp}", "--disable-usage-stats",
                             *(f"--{name}={port}" for name, port in ports.items())],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"http://127.0.0.1:{ports['dashboard-port']}"
    try:
        deadline = time.monotonic() + 180
        while job_cli("list", "--address", address).returncode != 0:
            assert head.poll() is None, "ray start --head exited"
            assert time.monotonic() < deadline, "the head's job server did not come up in 180 s"
            time.sleep(2)
        yield address
    finally:
        head.terminate()  # --block stops what it started on SIGTERM
        try:
            head.wait(timeout=60)
        finally:
            try:
                os.killpg(head.pid, signal.SIGKILL)  # stragglers of its session
            except ProcessLookupError:
                pass
            shutil.rmtree(temp, ignore_errors=True)


def test_ray_job_submit_runs_a_search_into_the_store(ray_head, space, tmp_path):  # noqa: F811
    storage = tmp_path / "runs"
    runtime_env = {"env_vars": {"HF_HUB_OFFLINE": "1", "RAYDIM_CACHE_DIR": str(tmp_path / "cache")}}
    job = job_cli("submit", "--address", ray_head, "--runtime-env-json", json.dumps(runtime_env), "--",
                  "raydim", "search", "--space", str(space), "--storage", str(storage), "--name", "job",
                  "--address", "auto", "--max-trials", "8", timeout=900)
    assert job.returncode == 0 and "succeeded" in job.stdout + job.stderr, (job.stdout + job.stderr)[-3000:]
    assert "sentiment:" in job.stdout and "threshold" in job.stdout  # the job's own output: progress, d90 table

    rows = ResultsStore.at(str(storage)).rows("job")
    assert 3 <= len(rows) <= 8 and {r.method for r in rows} == {"full", "said"}
    assert all(r.status == "completed" and r.task == "sentiment" for r in rows)
    assert Path(storage, "job").is_dir()  # Tune's own record of the run, beside the store
