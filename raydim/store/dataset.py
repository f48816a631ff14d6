"""The results store on disk: a Parquet dataset of trial rows, local or on any ``pyarrow.fs`` URI.

Layout: ``<root>/trials/part-<UTC time>-<random>.parquet``, one file per write; beside it,
small JSON files that are not results: ``searches/<name>.json``, each search's manifest
written at launch (:mod:`raydim.store.manifest`), and ``running/<name>/<trial id>.json``,
the progress of each trial running (:mod:`raydim.store.running`).
A write never touches an existing file, so any number of writers (two searches
sharing a storage) can append at once. Each part is written under a temp name
(``.part-...tmp``), flushed to disk (on a local disk) and renamed into place, the
folder flushed after: a reader lists only ``part-*.parquet``,
so a writer that dies mid-file leaves a stray temp file, never a half-read table.
A part damaged some other way (truncated by a full disk, zeroed, overwritten) is
skipped on read with a :class:`~raydim.errors.DamagedStoreWarning` that names
it: the rest of the store stays readable, and new parts can still be written.
Rows are deduplicated on read by (experiment, trial_id, attempt), the newest
kept, so a trial written again after a restore is counted once.

Only the driver writes (the ``StoreCallback`` in :mod:`raydim.tune.recorder`);
``pyarrow``, ``pandas`` or DuckDB read it directly (``read_parquet('<root>/trials/part-*.parquet')``).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.dataset as pads
import pyarrow.fs
import pyarrow.parquet as pq

from raydim.atomic import fsync, write_json_atomically
from raydim.errors import DamagedStoreWarning, RaydimError
from raydim.store.schema import TRIAL_SCHEMA, TrialRow, rows_from_table, rows_to_table

DEFAULT_STORAGE = str(Path("~/ray_results").expanduser())  # Ray Tune's default storage_path
STORE_FOLDER = "raydim-store"  # the store's folder inside a storage location, beside the runs' folders
TRIALS = "trials"
PART_PREFIX, PART_SUFFIX = "part-", ".parquet"
ROW_ID = ["experiment", "trial_id", "attempt"]


def storage_folder(storage: str | None, name: str) -> str:
    """The folder ``name`` of a storage location (``--storage``; Ray's ``~/ray_results`` by default): a run's,
    named by its ``--name``, or the store's."""
    base, query, options = (storage or DEFAULT_STORAGE).partition("?")  # s3://b/p?region=...: options stay last
    return f"{base.rstrip('/')}/{name}{query}{options}"


def store_uri(storage: str | None) -> str:
    """The store of a storage location, beside its runs' folders."""
    return storage_folder(storage, STORE_FOLDER)


def filesystem(uri: str, what: str) -> tuple[pyarrow.fs.FileSystem, str]:
    """The ``pyarrow.fs`` filesystem and root path of a local folder or URI (``s3://bucket/prefix``); ``what`` names
    the place in the error of a URI that cannot be opened."""
    if "://" not in uri:
        return pyarrow.fs.LocalFileSystem(), str(Path(uri).expanduser().resolve())
    try:
        fs, root = pyarrow.fs.FileSystem.from_uri(uri)
    except (pyarrow.ArrowInvalid, OSError) as e:
        raise RaydimError(f"cannot open {what} {uri}: {e}; give a local folder or a pyarrow.fs URI such as "
                          "s3://bucket/prefix") from None
    return fs, root.rstrip("/")


def _copied_within(ids: pd.DataFrame) -> pd.Series:
    """Which rows are reuse copies of a trial their own experiment already holds (trial id ``<experiment>/<id>``):
    written by a search rerun under its own name before :func:`raydim.store.reuse.reuse` stopped doing so; read as
    one trial, not two, so that no observation counts twice in a fit."""
    own = set(zip(ids["experiment"], ids["trial_id"]))
    prefix = ids["experiment"] + "/"
    return pd.Series([isinstance(r, str) and t.startswith(p) and (e, t[len(p):]) in own
                      for e, t, p, r in zip(ids["experiment"], ids["trial_id"], prefix, ids["reused_from"])],
                     index=ids.index)


def trial_frame(table: pyarrow.Table) -> pd.DataFrame:
    """A trial table read from a store as a data frame, ``metrics`` as dicts (integer columns with gaps become
    floats)."""
    frame = table.to_pandas()
    frame["metrics"] = [dict(m) if m is not None else {} for m in frame["metrics"]]
    return frame


@dataclass(frozen=True)
class ResultsStore:
    """The store rooted at ``uri``: a local folder or ``s3://bucket/prefix``-style URI (created on first write)."""

    uri: str
    fs: pyarrow.fs.FileSystem = field(init=False, repr=False, compare=False)
    root: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fs, root = filesystem(self.uri, "results store")
        object.__setattr__(self, "fs", fs)
        object.__setattr__(self, "root", root)

    @property
    def local(self) -> bool:
        """On a local disk (where a write is flushed to disk before its rename; a bucket's put is atomic)."""
        return isinstance(self.fs, pyarrow.fs.LocalFileSystem)

    @classmethod
    def at(cls, storage: str | None) -> ResultsStore:
        """The store of a search's storage location (see :func:`store_uri`)."""
        return cls(store_uri(storage))

    # -- writing -----------------------------------------------------------------------------------------------

    def write(self, rows: list[TrialRow]) -> str | None:
        """Append ``rows`` as one new part file, atomically; its path, or None when there is nothing to write."""
        if not rows:
            return None
        folder = f"{self.root}/{TRIALS}"
        self.fs.create_dir(folder, recursive=True)
        name = f"{PART_PREFIX}{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:12]}{PART_SUFFIX}"
        tmp, final = f"{folder}/.{name}.tmp", f"{folder}/{name}"
        try:
            with self.fs.open_output_stream(tmp) as sink:
                pq.write_table(rows_to_table(rows), sink)
            if self.local:
                fsync(tmp)  # on disk before the rename, so that a power cut cannot leave a truncated part
            self.fs.move(tmp, final)  # a rename on local disks: the part appears whole or not at all
            if self.local:
                fsync(folder)
        except BaseException:
            if self.fs.get_file_info(tmp).type == pyarrow.fs.FileType.File:
                self.fs.delete_file(tmp)
            raise
        return final

    def put_json(self, path: str, value: object) -> None:
        """Write a small JSON file at ``path`` (relative to the store's root) whole or not at all: a local file through
        a flushed temp file and a rename, an object of a bucket in one put. For what is not a trial row: the
        manifests of searches and the progress of running trials (:mod:`raydim.store.running`)."""
        if self.local:
            write_json_atomically(f"{self.root}/{path}", value)
            return
        self.fs.create_dir(f"{self.root}/{path}".rsplit("/", 1)[0], recursive=True)
        with self.fs.open_output_stream(f"{self.root}/{path}") as sink:
            sink.write(json.dumps(value, default=str).encode())

    def json_files(self, folder: str) -> dict[str, dict]:
        """Every ``*.json`` file in ``folder`` (relative to the root) by its name without ``.json``; a file that
        vanished or does not parse while being listed (a trial's progress just dropped) is left out."""
        selector = pyarrow.fs.FileSelector(f"{self.root}/{folder}", allow_not_found=True)
        found = {}
        for info in self.fs.get_file_info(selector):
            if info.base_name.endswith(".json") and not info.base_name.startswith("."):
                value = self.get_json(f"{folder}/{info.base_name}")
                if value is not None:
                    found[info.base_name.removesuffix(".json")] = value
        return found

    def get_json(self, path: str) -> object | None:
        """The small JSON file at ``path`` (relative to the root), as :meth:`put_json` wrote it; None where there is
        none, or it does not parse."""
        try:
            with self.fs.open_input_stream(f"{self.root}/{path}") as f:
                return json.loads(f.read())
        except (OSError, ValueError):
            return None

    def delete(self, path: str) -> None:
        """Remove the file at ``path`` (relative to the root), if it is there."""
        try:
            self.fs.delete_file(f"{self.root}/{path}")
        except FileNotFoundError:
            pass

    # -- reading -----------------------------------------------------------------------------------------------

    def parts(self) -> list[str]:
        """Paths of the finished part files, oldest first; temp files of writes in flight or crashed are skipped."""
        selector = pyarrow.fs.FileSelector(f"{self.root}/{TRIALS}", allow_not_found=True)
        try:
            infos = self.fs.get_file_info(selector)
        except OSError as e:  # a bucket out of reach, a path under a regular file
            raise RaydimError(f"cannot read the results store at {self.uri} ({str(e).splitlines()[0]}); check the "
                              "path, or the network and credentials of a bucket") from None
        return sorted(i.path for i in infos if i.base_name.startswith(PART_PREFIX) and i.base_name.endswith(PART_SUFFIX))

    def exists(self) -> bool:
        return bool(self.parts())

    def arrow(self, experiment: str | None = None) -> pyarrow.Table:
        """The trial table, one row per (experiment, trial_id, attempt) — the latest written — oldest finish first."""
        parts = self.parts()
        if not parts:
            return TRIAL_SCHEMA.empty_table()
        try:
            data = self._read(parts)  # all at once: the usual case, and the fast one
        except (pyarrow.ArrowException, OSError):  # OSError: a file damaged mid-way ("Couldn't deserialize")
            data = self._read_readable(parts)
        if experiment is not None:
            data = data.filter(pads.field("experiment") == experiment)
        if not data.num_rows:  # every part damaged, or no row of this experiment
            return data
        ids = data.select([*ROW_ID, "finished_at", "reused_from"]).to_pandas()
        ids["position"] = range(len(ids))
        latest = ids.sort_values(["finished_at", "position"]).drop_duplicates(ROW_ID, keep="last")
        return data.take(list(latest["position"][~_copied_within(latest)]))

    def _read(self, parts: list[str]) -> pyarrow.Table:
        """The rows of ``parts`` in the current schema (a column added since a part was written reads as nulls)."""
        table = pads.dataset(parts, schema=TRIAL_SCHEMA, filesystem=self.fs, format="parquet").to_table()
        missing = [c for c in ROW_ID if table.column(c).null_count]
        if missing:  # a Parquet file of other columns
            raise pyarrow.ArrowInvalid(f"not a part of a results store: no {', '.join(missing)} column")
        return table

    def _read_readable(self, parts: list[str]) -> pyarrow.Table:
        """The rows of every part that can be read; the others named in one :class:`DamagedStoreWarning`."""
        tables, damaged = [TRIAL_SCHEMA.empty_table()], []
        for part in parts:
            try:
                tables.append(self._read([part]))
            except (pyarrow.ArrowException, OSError) as e:
                reason = str(e).splitlines()[0].split(f"{part}': ")[-1].split(". ")[0]  # pyarrow's words, no path
                damaged.append(f"{part.rsplit('/', 1)[-1]} ({reason})")
        if damaged:  # none: the whole-store read failed on a passing fault of a bucket, which this one missed
            warnings.warn(DamagedStoreWarning(
                f"skipped {len(damaged)} damaged part file(s) in {self.root}/{TRIALS}, their rows not counted: "
                f"{'; '.join(damaged)}; move them out of that folder to silence this"))
        return pyarrow.concat_tables(tables)

    def table(self, experiment: str | None = None) -> pd.DataFrame:
        """:meth:`arrow` as a data frame (:func:`trial_frame`)."""
        return trial_frame(self.arrow(experiment))

    def rows(self, experiment: str | None = None) -> list[TrialRow]:
        """:meth:`arrow` as :class:`TrialRow` objects."""
        return rows_from_table(self.arrow(experiment))

    def experiments(self) -> list[str]:
        return sorted(set(self.arrow().column("experiment").to_pylist()))
