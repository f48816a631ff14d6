import pytest

from raydim.errors import RaydimError
from raydim.search import KeyTarget, SearchKey


def test_key_id_is_stable_and_readable():
    key = SearchKey("mrpc", "roberta-base", "final", "said")
    assert key.id == "mrpc:roberta-base@final:said"
    assert SearchKey.from_dict(key.to_dict()) == key


def test_methods_of_one_model_share_a_baseline():
    did, said = SearchKey("rte", "bert-base", method="did"), SearchKey("rte", "bert-base", method="said")
    assert did.baseline_key == said.baseline_key
    assert did.baseline_key.method == "full"
    assert SearchKey("rte", "bert-base", "random-init").baseline_key != did.baseline_key


def test_full_is_not_a_subspace_method():
    with pytest.raises(RaydimError, match="method 'full' is the baseline"):
        KeyTarget(SearchKey("rte", "bert-base", method="full"), chance=0.5)


def test_supplied_baseline_must_beat_chance():
    with pytest.raises(RaydimError, match="does not beat the trivial predictor"):
        KeyTarget(SearchKey("rte", "bert-base"), chance=0.53, baseline=0.5)


def test_empty_fields_are_rejected():
    with pytest.raises(RaydimError, match="SearchKey.model"):
        SearchKey("rte", "")
