
import pytest

from raydim.search.isotonic import isotonic_increasing


def test_monotone_input_is_its_own_fit():
    assert isotonic_increasing([0.1, 0.2, 0.2, 0.5]) == [0.1, 0.2, 0.2, 0.5]


def test_one_violation_pools_the_pair():
    assert isotonic_increasing([0.1, 0.5, 0.3, 0.6]) == pytest.approx([0.1, 0.4, 0.4, 0.6])


def test_violation_cascades_left():
    # 0.6 pools with 0.2 to 0.4, which undercuts 0.5, so all three pool to 0.433.
    assert isotonic_increasing([0.5, 0.6, 0.2]) == pytest.approx([13 / 30] * 3)


def test_weights_pull_the_pooled_mean():
    assert isotonic_increasing([0.8, 0.5], [3, 1]) == pytest.approx([0.725, 0.725])


def test_decreasing_input_pools_to_the_weighted_mean():
    assert isotonic_increasing([3.0, 2.0, 1.0], [1, 1, 2]) == pytest.approx([1.75] * 3)


def test_bad_weights_are_rejected():
    with pytest.raises(ValueError, match="weights"):
        isotonic_increasing([0.1, 0.2], [1, 0])
    with pytest.raises(ValueError, match="2 values"):
        isotonic_increasing([0.1, 0.2], [1])
