"""Can an output be written? Asked before the work whose result it would hold, never after.

A ten-minute fine-tune or a day-long search must not end in a traceback because
``--output``, ``--figures`` or ``--storage`` names a place that cannot be
written: a path under a regular file, a read-only or virtual filesystem
(``/proc``, ``/sys``), a folder without permission, a bucket that cannot be
reached. Permission bits alone do not tell (root passes every ``os.access``
check, and a read-only mount is a property of the filesystem), so a local
folder is probed by creating and deleting a file in it, or in the nearest
folder that exists on the way to it: nothing is left behind, and no folder is
created before the work. A bucket is only asked for its listing: writing to
it would leave an object behind.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow
import pyarrow.fs

from raydim.errors import RaydimError
from raydim.store.dataset import DEFAULT_STORAGE


def check_file(path: str, option: str) -> None:
    """A file can be created, or replaced, at ``path`` (given as ``option``, e.g. ``--output``)."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise RaydimError(f"{option} {path!r} is a folder; name a file, e.g. {Path(path) / 'result.json'}")
    _probe(target.parent, option, path)


def check_folder(path: str, option: str) -> None:
    """Files can be written into the folder ``path``, which may not exist yet."""
    target = Path(path).expanduser()
    if target.exists() and not target.is_dir():
        raise RaydimError(f"{option} {path!r} is a file; name a folder")
    _probe(target, option, path)


def check_storage(storage: str | None) -> None:
    """A search's ``--storage`` (``~/ray_results`` by default) can hold its runs and results store: a local
    folder that can be written, or a ``pyarrow.fs`` URI (``s3://...``) whose listing can be read."""
    if storage is None or "://" not in storage:
        check_folder(storage or DEFAULT_STORAGE, "--storage")
        return
    try:
        fs, root = pyarrow.fs.FileSystem.from_uri(storage)
        fs.get_file_info(root)
    except (pyarrow.ArrowException, OSError) as e:
        raise RaydimError(f"--storage {storage} cannot be reached ({str(e).splitlines()[0]}); check the network and "
                          "the credentials (e.g. AWS_PROFILE or AWS_ACCESS_KEY_ID), or give a local folder") from None


def _probe(folder: Path, option: str, path: str) -> None:
    """Create and delete a file in ``folder``, or in its nearest ancestor that exists (where writing starts)."""
    existing = folder.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise RaydimError(f"{option} {path!r} cannot be written: {existing} is a file, not a folder; pick another path")
    try:
        with tempfile.NamedTemporaryFile(prefix=".raydim-probe-", dir=existing):
            pass
    except OSError as e:
        raise RaydimError(f"{option} {path!r} cannot be written: {existing} takes no new files ({e.strerror}: "
                          "read-only, virtual or not yours); pick another path") from None
