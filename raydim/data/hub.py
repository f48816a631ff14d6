"""GLUE from the Hugging Face hub (``nyu-mll/glue``), the default when no data directory is given.

Unreachable from an offline machine; the error then says how to use local files.
"""

from __future__ import annotations

import datasets

from raydim.data.examples import features
from raydim.data.tasks import Task
from raydim.errors import RaydimError

GLUE_HUB_ID = "nyu-mll/glue"


class GlueHubSource:
    """Rows of a GLUE task from the hub, cast to the same canonical columns as the TSV reader."""

    def __init__(self, revision: str | None = None) -> None:
        self.revision = revision

    def __repr__(self) -> str:
        return f"hub:{GLUE_HUB_ID}@{self.revision or 'main'}"

    def fingerprint(self, task: Task) -> str:
        return f"{self!r}:{task.name}"

    def load(self, task: Task) -> dict[str, datasets.Dataset]:
        try:
            loaded = datasets.load_dataset(GLUE_HUB_ID, task.name, revision=self.revision)
        except OSError as e:  # ConnectionError, offline mode, missing cache
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise RaydimError(
                f"cannot load GLUE task {task.name!r} from the Hugging Face hub ({reason}); "
                "pass --data-dir DIR (GLUE TSV layout, e.g. DIR/MRPC/train.tsv) or set RAYDIM_DATA_DIR"
            ) from None
        out = {}
        for split in task.splits:
            if split not in loaded:
                raise RaydimError(f"{GLUE_HUB_ID}/{task.name} has no split {split!r} (it has: {', '.join(loaded)})")
            ds = loaded[split].select_columns([*task.text_fields, "label"]).cast(features(task))
            if len(ds) == 0:
                raise RaydimError(f"split {split!r} of task {task.name!r} is empty ({self!r})")
            out[split] = ds
        return out
