"""Atomic file writes: a reader sees the old file or the new one, never half of either, even after a power cut.

The rename alone is atomic only for processes that see the page cache: after
a crash or power loss the filesystem may have recorded the rename before the
data it names, leaving an empty or truncated file under the final name. So the
new file is flushed to disk (``fsync``) before the rename, and its folder after
it, so that the rename itself is on disk when the write returns.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomically(path: str | Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` on a sibling temp file, flush it to disk, rename it over ``path``, flush the folder."""
    target = Path(path).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would hide results from the rest of a shared cluster
        write(tmp)
        fsync(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync(target.parent)


def _umask() -> int:
    """The process's umask, read without setting it (``os.umask`` can only swap it, racing other threads)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022  # no /proc (macOS): the usual default


def write_json_atomically(path: str | Path, value: object) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(value, f, indent=2, default=str)

    write_atomically(path, write)


def fsync(path: str | Path) -> None:
    """Flush a file's data, or a folder's entries (what a rename into it changed), to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(folder: str | Path) -> None:
    """Flush every file and folder under ``folder``, and ``folder`` itself, to disk: before renaming it into place."""
    for root, _, files in os.walk(folder):
        for name in files:
            fsync(Path(root) / name)
        fsync(root)
