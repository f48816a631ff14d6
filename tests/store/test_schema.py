"""One dataclass, one Parquet schema: rows survive a write and a read unchanged, and bad rows are refused."""

import dataclasses

import pyarrow.parquet as pq
import pytest

from raydim.errors import RaydimError
from raydim.store import TRIAL_SCHEMA, ResultsStore, TrialRow, checkpoint_step
from raydim.store.schema import rows_from_table, rows_to_table
from tests.store.rows import trial_row


def test_columns_are_the_dataclass_fields():
    assert TRIAL_SCHEMA.names == [f.name for f in dataclasses.fields(TrialRow)]
    assert str(TRIAL_SCHEMA.field("metrics").type) == "map<string, double>"
    assert not TRIAL_SCHEMA.field("trial_id").nullable and TRIAL_SCHEMA.field("d").nullable


def test_rows_round_trip_through_parquet(tmp_path):
    rows = [trial_row(), trial_row(trial_id="t2", method="full", d=None, grouping=None, metrics={},
                                   status="error", error="RuntimeError: boom", primary=None, D=None)]
    pq.write_table(rows_to_table(rows), tmp_path / "rows.parquet")
    assert rows_from_table(pq.read_table(tmp_path / "rows.parquet")) == rows


FINGERPRINTS = ("data_fingerprint", "model_fingerprint", "layout_fingerprint", "engine_version")


def test_a_part_file_of_schema_1_is_read_with_empty_fingerprints(tmp_path):
    """Parts written before the fingerprint columns load beside new ones: those columns read as None."""
    store = ResultsStore(str(tmp_path))
    old = rows_to_table([trial_row(trial_id="old")]).drop_columns(list(FINGERPRINTS))
    (tmp_path / "trials").mkdir()
    pq.write_table(old.replace_schema_metadata({"raydim.schema_version": "1"}),
                   tmp_path / "trials" / "part-20250101T000000000000-old.parquet")
    store.write([trial_row(trial_id="new", engine_version=1, data_fingerprint="d", model_fingerprint="m",
                           layout_fingerprint="l")])
    old_row, new_row = store.rows()
    assert old_row.trial_id == "old" and all(getattr(old_row, name) is None for name in FINGERPRINTS)
    assert (new_row.engine_version, new_row.data_fingerprint, new_row.layout_fingerprint) == (1, "d", "l")


@pytest.mark.parametrize("overrides, message", [
    ({"status": "done"}, "TrialRow.status must be 'completed' or 'error', got 'done'"),
    ({"attempt": -1}, "attempt must be >= 0"),
    ({"method": "full"}, "of method 'full' has d=1000"),
    ({"d": None}, "of method 'said' has d=None"),
])
def test_bad_rows_are_refused_naming_the_field(overrides, message):
    with pytest.raises(RaydimError, match=message):
        trial_row(**overrides)


def test_naive_timestamps_are_refused():
    with pytest.raises(RaydimError, match="started_at must be timezone-aware"):
        trial_row(started_at=trial_row().started_at.replace(tzinfo=None))


@pytest.mark.parametrize("checkpoint, step", [("final", None), ("random-init", 0), ("step143000", 143000),
                                              ("main", None)])
def test_checkpoint_step_is_read_from_the_name(checkpoint, step):
    assert checkpoint_step(checkpoint) == step
