"""The results store: every trial any search ran, as Parquet, and the d90 table rebuilt from it.

Typical use::

    store = ResultsStore.at("~/ray_results")      # a search's --storage; or ResultsStore("s3://bucket/raydim-store")
    trials = store.table()                        # pandas, one row per trial (docs/store.md)
    d90s = d90_table(store.rows())                # one row per (experiment, key)
"""

from raydim.store.d90 import d90_rows, d90_table, latest_per_key, set_aside
from raydim.store.dataset import DEFAULT_STORAGE, ResultsStore, storage_folder, store_uri
from raydim.store.schema import COMPLETED, ERROR, TRIAL_SCHEMA, D90Row, TrialRow, checkpoint_step

__all__ = ["COMPLETED", "DEFAULT_STORAGE", "D90Row", "ERROR", "ResultsStore", "TRIAL_SCHEMA", "TrialRow",
           "checkpoint_step", "d90_rows", "d90_table", "latest_per_key", "set_aside", "storage_folder",
           "store_uri"]
