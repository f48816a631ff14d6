"""A search's manifest round-trips through the store; one another version wrote, or a broken file, is skipped."""

from __future__ import annotations

import datetime as dt

from raydim.store import ResultsStore
from raydim.store.manifest import SearchManifest, read_manifests, write_manifest

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def manifest(name: str = "glue", **changes) -> SearchManifest:
    values = dict(experiment=name, keys=("mrpc:minilm-l6@final:said",), slots=2, space="quick", storage=None,
                  started_at=T0, launched_at=T0, train={"epochs": 3}, search={"max_trials": 10})
    return SearchManifest(**{**values, **changes})


def test_manifests_round_trip_by_name(tmp_path):
    store = ResultsStore.at(str(tmp_path))
    write_manifest(store, manifest("a"))
    write_manifest(store, manifest("b", storage="s3://bucket/p", launched_at=T0 + dt.timedelta(hours=1)))
    assert read_manifests(store) == {"a": manifest("a"),
                                     "b": manifest("b", storage="s3://bucket/p", launched_at=T0 + dt.timedelta(hours=1))}


def test_a_manifest_that_does_not_parse_is_skipped(tmp_path):
    store = ResultsStore.at(str(tmp_path))
    write_manifest(store, manifest("good"))
    store.put_json("searches/other.json", {"experiment": "other"})
    (tmp_path / "raydim-store" / "searches" / "broken.json").write_text("{")
    assert list(read_manifests(store)) == ["good"]
