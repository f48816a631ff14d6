"""The searcher state Tune saves is read without Ray, under the file name Tune gives it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from ray.tune.search import Searcher

from raydim.errors import RaydimError
from raydim.search import KeyTarget, SearchKey, SearchPolicy, SearchSettings
from raydim.store.saved_search import STATE_PREFIX, STATE_SUFFIX, saved_policy
from raydim.tune import SCORE, D90Searcher


def test_the_file_name_is_tunes():
    assert Searcher.CKPT_FILE_TMPL == f"{STATE_PREFIX}{{}}{STATE_SUFFIX}"


def test_the_latest_saved_policy_is_read_back(tmp_path):
    key = SearchKey("mrpc", "m", method="said")
    policy = SearchPolicy([KeyTarget(key, 0.68)], SearchSettings(parallelism=2, baseline_lrs=(3e-5,)))
    older = SearchPolicy([KeyTarget(key, 0.5)], SearchSettings(parallelism=1, baseline_lrs=(3e-5,)))
    for session, saved in (("2026-01-01_00-00-00", older), ("2026-01-02_00-00-00", policy)):
        searcher = D90Searcher.from_state({"metric": SCORE, "policy": saved.state_dict()})
        searcher.save(str(tmp_path / Searcher.CKPT_FILE_TMPL.format(session)))
    assert saved_policy(str(tmp_path)).state_dict() == policy.state_dict()


def test_a_folder_without_a_saved_search_is_one_error(tmp_path):
    with pytest.raises(RaydimError, match="holds no saved search"):
        saved_policy(str(tmp_path))


def test_reading_it_imports_no_ray():
    code = "import sys, raydim.store.saved_search, raydim.store.status; print('ray' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parents[2])
    assert done.stdout.strip() == "False", done.stderr
