"""The commands that only read or describe answer at once: `raydim --help`, each command's --help, `tasks`,
`status` and `report` run without torch, transformers, datasets or Ray in the process, and `import raydim`
keeps its public names while loading none of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from raydim.search import KeyTarget, SearchKey, SearchPolicy, SearchSettings, SimulatedCurve
from raydim.store import ResultsStore
from tests.store.rows import simulated_rows

HEAVY = ("torch", "transformers", "datasets", "ray")
ROOT = Path(__file__).parents[1]
# Runs one command in a fresh interpreter, then names the heavy packages it had imported by the end.
PROBE = textwrap.dedent("""\
    import json, sys
    from raydim.cli import main
    try:
        main(json.loads(sys.argv[1]))
    except SystemExit:
        pass
    print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.argv[2])))))
""")


def heavy_modules_after(argv: list[str]) -> list[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argv), json.dumps(HEAVY)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def storage(tmp_path_factory) -> str:
    """A store holding one finished simulated search: what `status` and `report` read."""
    root = tmp_path_factory.mktemp("startup")
    key = SearchKey("mrpc", "m", method="said")
    curve = SimulatedCurve(d90=300, full=0.88, chance=0.68, width=0.8, noise_sd=0.005, lr_opt=0.05)
    settings = SearchSettings(parallelism=2, baseline_lrs=(3e-5,), d_min=10, d_max=100_000, lr_init=0.05)
    ResultsStore.at(str(root)).write(simulated_rows(SearchPolicy([KeyTarget(key, 0.68)], settings), {key.id: curve}))
    return str(root)


@pytest.mark.parametrize("argv", [["--help"], ["search", "--help"], ["train", "--help"], ["status", "--help"],
                                  ["report", "--help"], ["tasks"]], ids=" ".join)
def test_help_and_the_task_list_load_no_heavy_library(argv):
    assert heavy_modules_after(argv) == []


@pytest.mark.parametrize("command", ["status", "report"])
def test_status_and_report_read_the_store_without_a_heavy_library(command, storage):
    assert heavy_modules_after([command, "--storage", storage]) == []


def test_import_raydim_is_light_and_keeps_its_public_names():
    code = ("import sys, raydim; heavy = sorted({m.split('.')[0] for m in sys.modules} & set(sys.argv[1:])); "
            "print(heavy, raydim.GLUE_TASKS['mrpc'].primary_metric, raydim.parse_model_ref('minilm-l6').checkpoint, "
            "set(raydim.__all__) <= set(dir(raydim)))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code, *HEAVY], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "accuracy", "final", "True"]


def test_every_public_name_of_a_lazy_package_resolves():
    import raydim
    import raydim.data
    import raydim.models
    import raydim.tune

    for package in (raydim, raydim.data, raydim.models, raydim.tune):
        for name in package.__all__:
            assert getattr(package, name) is not None, f"{package.__name__}.{name}"
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        raydim.nope  # noqa: B018 - the lookup is the test
