"""Shared fixtures: offline hub, a private tokenisation cache, and the real GLUE folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import ray

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
GLUE_DIR = Path(os.environ.get("RAYDIM_TEST_GLUE_DIR", REPO.parent / "shared" / "data" / "glue"))


def repo_env() -> dict[str, str]:
    """This environment with the checkout first on PYTHONPATH: what a subprocess needs to import raydim and tests."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read or write the user's ~/.cache/raydim, nor inherit their data dir."""
    monkeypatch.setenv("RAYDIM_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "raydim-cache"))
    monkeypatch.delenv("RAYDIM_DATA_DIR", raising=False)


@pytest.fixture
def no_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if Ray is started: a user's mistake must be found before."""
    def init(*args, **kwargs):
        raise AssertionError("ray.init was called: the mistake was not found before Ray started")

    monkeypatch.setattr("ray.init", init)


@pytest.fixture
def glue_dir() -> Path:
    """The real GLUE TSV folder (MRPC), beside the checkout as in CI."""
    if not (GLUE_DIR / "MRPC" / "train.tsv").is_file():
        pytest.skip(f"GLUE data not found at {GLUE_DIR} (set RAYDIM_TEST_GLUE_DIR)")
    return GLUE_DIR


@pytest.fixture(scope="session")
def ray_cluster():
    """One real 2-CPU local Ray for every test that needs it (starting one takes seconds); its address
    lets a second driver (a subprocess) join it."""
    context = ray.init(num_cpus=2, include_dashboard=False)
    yield context.address_info["address"]
    ray.shutdown()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that starts Ray (through ``ray_cluster``) is ``slow``, so that ``pytest -m 'not slow'`` leaves
    it out while iterating without each such test having to say so; CI runs them all."""
    for item in items:
        if "ray_cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
