"""A search's manifest: what it runs, written once at launch, so ``raydim status`` shows it before any trial ends.

The results store gains a row only when a trial ends, minutes or hours after
the launch; the manifest (``<store>/searches/<name>.json``) says from the first
second which keys the search measures, with which settings, on how many
parallel trial slots, since when.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from raydim.store.dataset import ResultsStore

SEARCHES = "searches"  # the manifests' folder in the store


@dataclass(frozen=True)
class SearchManifest:
    """One search as launched; ``launched_at`` is this session's start (a resumed search keeps its ``started_at``)."""

    experiment: str
    keys: tuple[str, ...]
    slots: int  # trials the cluster runs at once
    space: str  # the --space file, or the built-in profile's name
    storage: str | None  # --storage; None: Ray's default, ~/ray_results
    started_at: dt.datetime
    launched_at: dt.datetime
    train: dict[str, Any] = field(default_factory=dict)
    search: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "started_at": self.started_at.isoformat(), "launched_at": self.launched_at.isoformat()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SearchManifest:
        return cls(**{**values, "keys": tuple(values["keys"]),
                      "started_at": dt.datetime.fromisoformat(values["started_at"]),
                      "launched_at": dt.datetime.fromisoformat(values["launched_at"])})


def write_manifest(store: ResultsStore, manifest: SearchManifest) -> None:
    store.put_json(f"{SEARCHES}/{manifest.experiment}.json", manifest.to_dict())


def read_manifests(store: ResultsStore) -> dict[str, SearchManifest]:
    """Every manifest in ``store`` by experiment name; one that does not parse (another version's) is left out."""
    manifests = {}
    for name, values in store.json_files(SEARCHES).items():
        try:
            manifests[name] = SearchManifest.from_dict(values)
        except (KeyError, TypeError, ValueError):
            continue
    return manifests
