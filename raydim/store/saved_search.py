"""The searcher state Tune saves in a run's folder, read without Ray: for ``raydim status`` and the live progress.

While a search runs, Tune asks its searcher to save itself every few seconds into
the run's folder (``STORAGE/NAME``), under Tune's file name
``searcher-state-<session start>.pkl``; raydim's ``D90Searcher`` writes its
:class:`~raydim.search.SearchPolicy` there as JSON. Everything in it is Ray-free,
so the store layer reads it here without importing Ray, and
:func:`raydim.tune.tuner.load_searcher` wraps the same state in a searcher.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow.fs

from raydim.errors import RaydimError
from raydim.search import SearchPolicy
from raydim.store.dataset import filesystem

# Ray Tune's ``Searcher.CKPT_FILE_TMPL`` ("searcher-state-{}.pkl") split at its "{}"; a test keeps them equal.
STATE_PREFIX, STATE_SUFFIX = "searcher-state-", ".pkl"


def read_searcher_state(run_folder: str) -> dict[str, Any]:
    """The latest searcher state saved in ``run_folder`` (local path or ``s3://``-style URI), as ``save`` wrote it."""
    fs, root = filesystem(run_folder, "run folder")
    infos = [i for i in fs.get_file_info(pyarrow.fs.FileSelector(root, allow_not_found=True))
             if i.base_name.startswith(STATE_PREFIX) and i.base_name.endswith(STATE_SUFFIX)]
    if not infos:
        raise RaydimError(f"{run_folder} holds no saved search; is it the folder of a raydim search run?")
    latest = max(infos, key=lambda i: i.base_name)  # named by session start time, as Tune's restore picks it
    with fs.open_input_stream(latest.path) as f:
        return json.loads(f.read())


def saved_policy(run_folder: str) -> SearchPolicy:
    """The search policy as Tune last saved it in ``run_folder``: every key's trials, the running ones included."""
    return SearchPolicy.from_state_dict(read_searcher_state(run_folder)["policy"])
