"""`raydim report`: the d90 table in four formats, figures on request, and its mistakes as one-line errors."""

import csv
import io
import json

import pytest

from raydim.analysis import build_report, format_report
from raydim.cli import main
from tests.analysis.stores import scaling_store


@pytest.fixture(scope="module")
def storage(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    scaling_store(root / "raydim-store")
    return root


def test_table_lists_every_key_and_the_scaling_fit(storage, capsys):
    assert main(["report", "--storage", str(storage)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("experiment") and out.count("found") == 4 and "d90 ∝ D^-0.5" in out


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


def test_figures_are_written_where_asked(storage, tmp_path, capsys):
    assert main(["report", "--storage", str(storage), "--figures", str(tmp_path / "figs")]) == 0
    assert "wrote" in capsys.readouterr().err and len(list((tmp_path / "figs").glob("*.png"))) == 3


def test_bound_options_change_the_bound(storage):
    from raydim.store import ResultsStore

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
