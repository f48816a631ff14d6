"""Every figure is written, whole, as a PNG; a figure with nothing to show is skipped."""

import dataclasses

import pandas as pd
import pytest

from raydim.analysis import build_report, write_figures
from raydim.analysis.figures import step_positions
from raydim.analysis.report import FIGURES
from raydim.search import KeyTarget, SearchPolicy
from raydim.store import ResultsStore
from tests.analysis.stores import scaling_store, scaling_store_mid_search
from tests.store.rows import simulated_rows
from tests.store.test_d90 import CURVES, SAID, SETTINGS

PNG = b"\x89PNG\r\n\x1a\n"


def test_all_four_figures_are_written_and_non_empty(tmp_path):
    store = scaling_store(tmp_path / "store")
    for checkpoint, step in (("step1000", 1000), ("random-init", 0)):  # the d90-vs-checkpoint figure's two kinds
        rows = simulated_rows(SearchPolicy([KeyTarget(SAID, 0.68)], SETTINGS), CURVES, experiment=f"ckpt-{step}",
                              D=10**7)
        store.write([dataclasses.replace(r, checkpoint=checkpoint, checkpoint_step=step, search=r.search.replace(
            '"final"', f'"{checkpoint}"')) for r in rows])
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


def test_random_init_sits_a_decade_left_of_the_first_step_on_the_log_axis():
    steps = pd.Series([1000, 0, 143000, 20])
    assert step_positions(steps).tolist() == [1000.0, 2.0, 143000.0, 20.0]
    assert step_positions(pd.Series([0, 0])).tolist() == [1.0, 1.0]


def test_a_key_that_ended_at_its_baseline_gets_an_empty_panel(tmp_path):
    """A key whose full fine-tune did not beat chance has no subspace trial: no d to put on a log axis."""
    store = ResultsStore(str(tmp_path / "store"))
    rows = simulated_rows(SearchPolicy([KeyTarget(SAID, 0.68)], SETTINGS), CURVES)
    store.write([r for r in rows if r.method == "full"])
    written = write_figures(build_report(store), tmp_path / "figures")
    assert [p.name for p in written] == [FIGURES["metric_vs_d"]] and written[0].read_bytes().startswith(PNG)


def test_a_collapsed_trial_is_drawn_apart_from_the_curve(tmp_path, monkeypatch):
    from raydim.analysis import figures
    from tests.search.test_collapse import STUDY_STORE

    drawn = {}
    monkeypatch.setattr(figures, "_save", lambda figure, path: drawn.setdefault("figure", figure) and path)
    report = build_report(ResultsStore.at(str(STUDY_STORE)), experiment="study-said-did-sst2")
    figures.metric_vs_d(report.trials, report.d90, tmp_path / "m.png")
    said = next(ax for ax in drawn["figure"].axes if ":said" in ax.get_title())
    crosses = [c for c in said.collections if c.get_label() == "collapsed (set aside)"]
    assert len(crosses) == 1 and crosses[0].get_offsets().tolist() == [[400.0, pytest.approx(0.5505, abs=1e-4)]]


def test_a_d90_whose_search_is_not_over_is_drawn_hollow(tmp_path, monkeypatch):
    """The largest model's search with its last trials running: its point is hollow, the others are not."""
    from raydim.analysis import figures

    store = scaling_store_mid_search(tmp_path / "now", tmp_path / "all")
    drawn = {}
    monkeypatch.setattr(figures, "_save", lambda figure, path: drawn.setdefault("figure", figure) and path)
    report = build_report(store)
    figures.d90_vs_params(report.d90, report.scaling, tmp_path / "d.png")
    [ax] = drawn["figure"].axes
    [hollow] = [c for c in ax.collections if c.get_label().endswith("search not over")]
    assert hollow.get_offsets().tolist() == [[1e9, pytest.approx(report.d90.set_index("experiment").loc[
        "scaling-xl", "d90"])]]
