"""Checkpoint names: the step only from known patterns, and the revisions a hub model has."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub
import pytest

from raydim.models.checkpoints import by_step, checkpoint_step, few, hub_revisions


@pytest.mark.parametrize("name, step", [
    ("random-init", 0), ("step0", 0), ("step143000", 143000),  # Pythia
    ("step1000-tokens4B", 1000), ("step738020-tokens3095B", 738020),  # OLMo
    ("step_20k", 20_000), ("multiberts-seed_0-step_2000k", 2_000_000),  # MultiBERTs
    ("checkpoint-500", 500), ("run/checkpoint-1500", 1500),  # transformers.Trainer
    ("final", None), ("main", None), ("v1.0", None), ("v2", None), ("1000", None), ("epoch3", None),
    ("a3f9c2e81b", None), ("3f2e9a1c0d4b5e6f7a8b9c0d1e2f3a4b5c6d7e8f", None), ("mystep100", None),
    ("step100a", None), ("step1.5", None),
])
def test_step_is_read_only_from_known_names(name: str, step: int | None) -> None:
    assert checkpoint_step(name) == step


def test_names_are_ordered_by_step_unknown_last() -> None:
    assert by_step(["step1000", "main", "step20", "random-init", "checkpoint-300", "v1.0"]) == \
        ["random-init", "step20", "checkpoint-300", "step1000", "main", "v1.0"]
    assert few([f"step{i}" for i in range(10)]) == "step0, step1, step2, step3, ..., step8, step9 (10 in all)"
    assert few(["a", "b"]) == "a, b"


def fake_cached_repo(cache: Path, repo_id: str, revisions: list[str], config_json: str = "{}") -> None:
    """What the hub cache holds after downloading ``revisions`` of ``repo_id``: refs naming snapshot folders."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    for i, revision in enumerate(revisions):
        commit = f"{i + 1:040x}"
        (repo / "refs" / revision).write_text(commit)
        (repo / "snapshots" / commit).mkdir(parents=True)
        (repo / "snapshots" / commit / "config.json").write_text(config_json)


def test_offline_revisions_are_the_cached_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    fake_cached_repo(tmp_path, "org/ladder", ["step2000", "main", "step1000"])
    assert hub_revisions("org/ladder") == (["step1000", "step2000", "main"], False)
    assert hub_revisions("org/not-cached") == ([], False)
