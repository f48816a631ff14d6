"""Every figure is written, whole, as a PNG; a figure with nothing to show is skipped."""

import dataclasses

from raydim.analysis import build_report, write_figures
from raydim.analysis.report import FIGURES
from raydim.search import KeyTarget, SearchPolicy
from raydim.store import ResultsStore
from tests.analysis.stores import scaling_store
from tests.store.rows import simulated_rows
from tests.store.test_d90 import CURVES, SAID, SETTINGS

PNG = b"\x89PNG\r\n\x1a\n"


def test_all_four_figures_are_written_and_non_empty(tmp_path):
    store = scaling_store(tmp_path / "store")
    rows = simulated_rows(SearchPolicy([KeyTarget(SAID, 0.68)], SETTINGS), CURVES, experiment="ckpt", D=10**7)
    store.write([dataclasses.replace(r, checkpoint="step1000", checkpoint_step=1000, search=r.search.replace(
        '"final"', '"step1000"')) for r in rows])
    written = write_figures(build_report(store), tmp_path / "figures")
    assert sorted(p.name for p in written) == sorted(FIGURES.values())
    for path in written:
        assert path.read_bytes().startswith(PNG) and path.stat().st_size > 10_000
    assert not [p for p in (tmp_path / "figures").iterdir() if p.name.startswith(".")]  # no temp files left


def test_figures_without_data_are_skipped(tmp_path):
    store = ResultsStore(str(tmp_path / "store"))
    store.write(simulated_rows(SearchPolicy([KeyTarget(SAID, 0.68)], SETTINGS), CURVES, D=None, train_size=None))
    written = write_figures(build_report(store), tmp_path / "figures")
    assert [p.name for p in written] == [FIGURES["metric_vs_d"]]
