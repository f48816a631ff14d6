import pytest

from raydim.search.ksection import coarse_grid, log_grid, split_gaps


def test_coarse_grid_doubles_and_ends_at_d_max():
    assert coarse_grid(10, 100) == [10, 20, 40, 80, 100]
    assert coarse_grid(16, 64) == [16, 32, 64]


def test_log_grid_spacing_is_at_most_the_ratio():
    grid = log_grid(10, 100_000, 1.1)
    assert grid[0] == 10 and grid[-1] == 100_000
    assert max(b / a for a, b in zip(grid, grid[1:])) <= 1.1 + 0.05  # rounding to integers at small d


@pytest.mark.parametrize("k", [1, 2, 3, 7])
def test_empty_bracket_is_cut_into_k_plus_one_equal_parts(k):
    assert split_gaps([0.0, 1.0], k, min_width=0.0) == pytest.approx([i / (k + 1) for i in range(1, k + 1)])


def test_running_points_are_cuts_too():
    # one trial runs at 1/4: the two free slots go to the wide gap on its right
    assert split_gaps([0.0, 0.25, 1.0], 2, min_width=0.0) == pytest.approx([0.5, 0.75])


def test_no_cut_once_every_gap_is_fine_enough():
    assert split_gaps([0.0, 0.1], 3, min_width=0.1) == []
    assert split_gaps([0.0, 0.3], 5, min_width=0.1) == pytest.approx([0.1, 0.2])
