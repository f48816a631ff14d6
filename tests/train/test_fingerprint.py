"""Fingerprints follow content, not paths or names: rows, weights and layout, each cheap to compute."""

import json
import shutil

import pytest

from raydim.data.spec import DataSpec
from raydim.methods import get_method
from raydim.models import load_model, parse_model_ref
from raydim.subspace.projected import SubspaceConfig
from raydim.train import fingerprint
from raydim.train.fingerprint import data_fingerprint, expected_layout_fingerprint, model_fingerprint
from tests.tiny import write_sentiment_task, write_tiny_model_dir


def _data(train, eval_, **options) -> str:
    spec = DataSpec(task="sentiment", train_file=str(train), eval_file=str(eval_), text_columns=("text",), **options)
    return data_fingerprint(spec.load())


def test_the_data_fingerprint_follows_the_rows_not_the_path(tmp_path):
    train, eval_ = write_sentiment_task(tmp_path / "a")
    first = _data(train, eval_)
    copy = tmp_path / "b"
    shutil.copytree(tmp_path / "a", copy)
    assert _data(copy / "train.jsonl", copy / "eval.jsonl") == first  # the same rows elsewhere
    assert _data(train, eval_, max_train_samples=100) != first  # other rows
    rows = [json.loads(line) for line in train.read_text().splitlines()]
    rows[-1]["label"] = "neg" if rows[-1]["label"] == "pos" else "pos"
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert _data(train, eval_) != first  # one label edited at the same path


def test_the_model_fingerprint_follows_the_weights_in_the_folder(tmp_path):
    folder = write_tiny_model_dir(tmp_path / "model", pretrain_steps=0)
    ref = parse_model_ref(str(folder))
    first, random_init = model_fingerprint(ref), model_fingerprint(ref.with_checkpoint("random-init"))
    shutil.copytree(folder, tmp_path / "copy")
    assert model_fingerprint(parse_model_ref(str(tmp_path / "copy"))) == first
    write_tiny_model_dir(folder, seed=1, pretrain_steps=0)  # other weights under the same name
    assert model_fingerprint(ref) != first
    assert model_fingerprint(ref.with_checkpoint("random-init")) == random_init  # drawn from the seed anyway
    assert model_fingerprint(parse_model_ref("org/not-in-the-cache")) is None


def test_a_large_file_is_sampled_yet_sees_changed_weights(tmp_path, monkeypatch):
    """Past WHOLE_FILE_BYTES only 64 blocks are read; weights that changed (everywhere, as new weights do) differ."""
    monkeypatch.setattr(fingerprint, "WHOLE_FILE_BYTES", 1 << 16)
    path = tmp_path / "model.safetensors"
    path.write_bytes(bytes(range(256)) * (1 << 14))  # 4 MiB
    stat = path.stat()
    first = fingerprint._file_fingerprint(str(path), stat.st_size, stat.st_mtime_ns)
    path.write_bytes(bytes(255 - b for b in range(256)) * (1 << 14))
    stat = path.stat()
    assert fingerprint._file_fingerprint(str(path), stat.st_size, stat.st_mtime_ns) != first


@pytest.mark.parametrize("method", ["did", "said"])
def test_the_expected_layout_is_the_one_training_builds(tmp_path, method):
    """Predicted on the meta device from the config alone, it equals the layout of the loaded model's subspace."""
    ref = parse_model_ref(str(write_tiny_model_dir(tmp_path / "model", pretrain_steps=0)))
    built = get_method(method).build(load_model(ref, num_labels=3), SubspaceConfig(d=40), "tiny")
    assert expected_layout_fingerprint(ref, 3, method, "layer") == built.layout.fingerprint()
    assert expected_layout_fingerprint(ref, 2, method, "layer") != built.layout.fingerprint()  # another head
    assert expected_layout_fingerprint(ref, 3, "full", "layer") is None
