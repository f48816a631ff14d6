"""`raydim report`: the d90 table in four formats, figures on request, and its mistakes as one-line errors."""

import csv
import datetime as dt
import io
import json
from dataclasses import replace

import pytest

from raydim.analysis import build_report, format_report
from raydim.cli import main
from raydim.store import ResultsStore
from raydim.store.running import ProgressWriter
from tests.analysis.stores import scaling_store, scaling_store_mid_search


@pytest.fixture(scope="module")
def storage(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    scaling_store(root / "raydim-store")
    return root


def test_table_lists_every_key_and_the_scaling_fit(storage, capsys):
    assert main(["report", "--storage", str(storage)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("experiment") and out.count("found") == 4 and "d90 ∝ D^slope, slope -0.5" in out


def test_one_experiment_as_json_csv_and_markdown(storage, capsys):
    assert main(["report", "--storage", str(storage), "--experiment", "scaling-base", "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["key"] == "mrpc:base@final:said" and row["status"] == "found" and row["D"] == 10**7
    assert 0 < row["bound"] < 1 and row["train_size"] == 3668
    assert main(["report", "--storage", str(storage), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 4 and {"d90", "d90_low", "d90_high", "paper_threshold", "relative_threshold", "bound",
                               "gap"} <= set(rows[0])
    assert main(["report", "--storage", str(storage), "--format", "md"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("|---|")


def test_the_store_is_read_once_for_every_table(storage, monkeypatch):
    # a store in a bucket is a list and a read per part file: the report builds every analysis from one read
    reads = []
    arrow = ResultsStore.arrow
    monkeypatch.setattr(ResultsStore, "arrow", lambda self, experiment=None: reads.append(experiment)
                        or arrow(self, experiment))
    report = build_report(ResultsStore.at(str(storage)), experiment="scaling-base")
    assert reads == [None] and set(report.trials["experiment"]) == {"scaling-base"} and len(report.d90) == 1


def test_trials_lists_every_trial_in_the_order_it_started_with_what_to_know_about_it(storage, tmp_path, capsys):
    from tests.store.rows import T0, trial_row

    later = T0 + dt.timedelta(hours=1)
    search = ResultsStore.at(str(storage)).rows("scaling-base")[0].search  # a real search's settings and targets
    ResultsStore(str(tmp_path / "raydim-store")).write([replace(row, search=search) for row in [
        trial_row(trial_id="late", d=3200, started_at=later, finished_at=later + dt.timedelta(seconds=298),
                  censored=True, best_epoch=1, epochs=1, seconds=298.0),
        trial_row(trial_id="full", method="full", d=None, num_trainable=22_713_986, grouping=None, lr=1e-4),
        trial_row(trial_id="copy", d=400, lr=0.5, primary=0.5505, reused_from="older-search", started_at=T0,
                  finished_at=T0 + dt.timedelta(seconds=1)),
        trial_row(trial_id="failed", d=800, status="error", error="RuntimeError: out of memory", primary=None),
    ]])
    assert main(["report", "--storage", str(tmp_path), "--trials", "--format", "md"]) == 0
    header, rule, *rows = capsys.readouterr().out.splitlines()
    assert header.startswith("| experiment | key | d | lr | seed | score |") and rule.startswith("|---|")
    # by start, then by end: the copy (T0, 1 s), the full fine-tune and the failed trial (T0, 60 s), the censored one
    assert [row.split(" | ")[2] for row in rows] == ["400", "-", "800", "3,200"]
    assert "0.5505 accuracy" in rows[0] and "reused from older-search" in rows[0]
    assert "mrpc:minilm-l6@final:full" in rows[1] and "| 0.0001 |" in rows[1]
    assert "error: RuntimeError: out of memory" in rows[2]
    assert "| 1 of 1 | 298 | stopped once passed (score is a lower bound) |" in rows[3]
    assert main(["report", "--storage", str(tmp_path), "--trials", "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) == 4 and "search" not in records[0] and records[3]["censored"] is True


def test_figures_are_written_where_asked(storage, tmp_path, capsys):
    assert main(["report", "--storage", str(storage), "--figures", str(tmp_path / "figs")]) == 0
    assert "wrote" in capsys.readouterr().err and len(list((tmp_path / "figs").glob("*.png"))) == 3


def test_bound_options_change_the_bound(storage):
    store = ResultsStore.at(str(storage))
    wide, tight = (build_report(store, "scaling-xl", bits=b).d90["bound"].iloc[0] for b in (8, 2))
    assert tight == pytest.approx(wide / 2, rel=0.05)
    assert "bound" in format_report(build_report(store), "table")


@pytest.mark.parametrize("argv, message", [
    (["--storage", "EMPTY"], "no results store at"),
    (["--storage", "STORE", "--experiment", "nope"], "no experiment 'nope' in"),
    (["--storage", "STORE", "--delta", "2", "--bits", "0"], "--bits 0 must be > 0, e.g. 8 bits per coordinate of θ_d; "
                                                            "--delta 2 must be in (0, 1)"),
    (["--storage", "STORE", "--figures", "FILE"], "is a file; name a folder"),
    (["--storage", "STORE", "--format", "xml"], "invalid choice: 'xml'"),
])
def test_report_mistakes_are_one_line_errors(argv, message, storage, tmp_path, capsys):
    (tmp_path / "file.png").write_bytes(b"")
    paths = {"EMPTY": str(tmp_path / "nothing"), "STORE": str(storage), "FILE": str(tmp_path / "file.png")}
    try:
        code = main(["report", *[paths.get(a, a) for a in argv]])
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "nothing").exists()


def test_trials_name_the_collapsed_trial_the_fit_set_aside(capsys):
    from tests.search.test_collapse import STUDY_STORE

    assert main(["report", "--storage", str(STUDY_STORE), "--experiment", "study-said-did-sst2", "--trials", "--format",
                 "md"]) == 0
    marked = [row for row in capsys.readouterr().out.splitlines() if "collapsed" in row]
    assert len(marked) == 1 and "| 400 | 0.5 | 0 | 0.5505 accuracy |" in marked[0]
    assert marked[0].endswith("| collapsed: set aside, rerun at a lower lr |")


def test_a_collapsed_trial_that_was_never_rerun_says_so(capsys):
    """MRPC DID's d = 23,286 at the rule's rate was set aside when the key's budget was spent: no rerun to point to."""
    from tests.search.test_collapse import STUDY_STORE

    assert main(["report", "--storage", str(STUDY_STORE), "--experiment", "study-said-did-mrpc", "--trials",
                 "--format", "md"]) == 0
    notes = {row.split(" | ")[2]: row.rsplit(" | ", 1)[1] for row in capsys.readouterr().out.splitlines()
             if "collapsed" in row and ":did |" in row}
    assert notes["23,286"] == "collapsed: set aside, not rerun |"
    assert notes["51,200"] == "collapsed: set aside, rerun at a lower lr |"


def test_a_search_still_running_is_marked_in_the_table_and_the_scaling_fit(tmp_path, capsys):
    """The largest model's rows as they stood with its last trials running: its status says (unfinished), and so
    does the fit that uses it."""
    scaling_store_mid_search(tmp_path / "now" / "raydim-store", tmp_path / "all")
    assert main(["report", "--storage", str(tmp_path / "now")]) == 0
    out = capsys.readouterr().out
    [xl] = [line for line in out.splitlines() if line.startswith("scaling-xl")]
    assert "(unfinished)" in xl and out.count("(unfinished)") == 1
    assert "4 models, 1 of them unfinished)" in out


def test_a_key_whose_trial_still_writes_its_progress_is_marked_unfinished(tmp_path, capsys):
    """All rows in, but a trial of the key is running (its progress file in the store): the row may still move."""
    store = scaling_store(tmp_path / "raydim-store")
    ProgressWriter(store, "scaling-base", "t", "mrpc:base@final:said", 78, 3, 0.0)(1, 750, 1)
    assert main(["report", "--storage", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines() if "(unfinished)" in line] == ["scaling-base"]
