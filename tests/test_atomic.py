"""Atomic writes reach the disk in order: the file's data before its rename, the rename (the folder) after."""

from __future__ import annotations

import os
import stat

import pytest

import raydim.atomic
from raydim.atomic import write_json_atomically
from raydim.store import ResultsStore
from tests.store.rows import trial_row


@pytest.fixture
def disk_events(monkeypatch):
    """What reached the disk, in order: ("fsync", path) and ("rename", target)."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("rename", str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(raydim.atomic.os, "fsync", fsync)
    monkeypatch.setattr(raydim.atomic.os, "replace", replace)
    return events


def test_a_file_is_on_disk_before_its_rename_and_the_rename_after(tmp_path, disk_events):
    target = tmp_path / "out" / "result.json"
    write_json_atomically(target, {"d90": 1000})
    [(_, data), rename, folder] = disk_events
    assert data.startswith(f"{target.parent}/.result.json.") and rename == ("rename", str(target))
    assert folder == ("fsync", str(target.parent))
    assert target.read_text() == '{\n  "d90": 1000\n}'


def test_a_store_part_is_on_disk_before_it_appears(tmp_path, disk_events):
    store = ResultsStore(str(tmp_path))
    part = store.write([trial_row()])
    [(_, data), (_, folder)] = disk_events  # the rename is pyarrow's move
    assert data == f"{tmp_path}/trials/.{part.rsplit('/', 1)[1]}.tmp" and folder == f"{tmp_path}/trials"
    assert len(store.rows()) == 1


def test_an_atomic_file_gets_the_umask_mode_not_the_temp_files_0600(tmp_path):
    """A figure or JSON result is read by others on a shared cluster: 0644 under the usual umask, like open()."""
    old = os.umask(0o027)
    try:
        write_json_atomically(tmp_path / "result.json", {"d90": 434})
        (tmp_path / "plain.txt").write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "result.json").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode) == 0o640
