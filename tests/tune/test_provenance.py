"""What a new search expects of a stored trial: the same settings hash no longer suffices when the data at the
same path, the weights in the same folder, or the engine changed."""

import json

from raydim.data.spec import DataSpec
from raydim.search import SearchKey, TrialRequest
from raydim.tune import provenance as provenance_module
from raydim.tune.provenance import expected_provenance
from raydim.tune.template import TEMPLATE, TrialTemplate
from tests.tiny import write_sentiment_task, write_tiny_model_dir


def test_edited_data_other_weights_or_a_new_engine_change_the_provenance_not_the_settings(tmp_path, monkeypatch):
    train, eval_ = write_sentiment_task(tmp_path / "data")
    model = str(write_tiny_model_dir(tmp_path / "model", pretrain_steps=0))
    template = TrialTemplate({"sentiment": DataSpec(task="sentiment", train_file=str(train), eval_file=str(eval_),
                                                    text_columns=("text",))}, {"epochs": 1})
    space = {TEMPLATE: template.to_dict()}
    request = TrialRequest("t", SearchKey("sentiment", model, "final", "said"), 32, 0.3, 0)
    first = expected_provenance(space)(request)
    assert None not in first and expected_provenance(space)(request) == first

    rows = [json.loads(line) for line in train.read_text().splitlines()]
    rows[0]["text"] += " again"
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    edited = expected_provenance(space)(request)
    assert edited.settings_hash == first.settings_hash and edited.data_fingerprint != first.data_fingerprint

    write_tiny_model_dir(tmp_path / "model", seed=1, pretrain_steps=0)
    retrained = expected_provenance(space)(request)
    assert retrained.model_fingerprint != first.model_fingerprint
    assert retrained.layout_fingerprint == first.layout_fingerprint  # same architecture

    monkeypatch.setattr(provenance_module, "ENGINE_VERSION", first.engine_version + 1)
    assert expected_provenance(space)(request).engine_version != first.engine_version

    full = TrialRequest("t", SearchKey("sentiment", model, "final", "full"), None, 1e-4, 0)
    assert expected_provenance(space)(full).layout_fingerprint is None  # no subspace
    simulated = TrialRequest("t", SearchKey("mrpc", "m", "final", "said"), 32, 0.3, 0)  # a task the template lacks
    assert expected_provenance(space)(simulated)[2:] == (None, None, None)
