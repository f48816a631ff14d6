"""Try every bad input of docs/reliability.md against the CLI and count the ones handled.

Handled: exit code 2 and one line ``raydim...: error: ...`` on stderr (after a ``raydim: warning:`` line
naming damaged store files, if any), no traceback, Ray never started, nothing created in the scratch folder
by the failed command; or, for a store with some damaged files, exit 0 and one ``raydim: warning:`` line. Usage::

    python benchmarks/bad_inputs.py --data-dir ../shared/data/glue

Runs in one process (``raydim.cli.main``), with ``ray.init`` replaced by a failure: a case that reaches Ray
is not handled. The one case that needs Ray's own wait (a port that answers but is not Ray) is in
``tests/tune/test_cluster.py`` instead (about 40 s).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import socket
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import ray

from raydim.cli import main

LATIN1 = "café".encode("latin-1")
BUCKET = "s3://bucket/runs?endpoint_override=127.0.0.1:1&scheme=http&region=us-east-1"


def scratch(root: Path, glue: Path) -> dict[str, str]:
    """Input files and places, each broken one way; names the cases use as placeholders."""
    (root / "file").write_text("")
    files = {"csv": b"text,label\ngood,pos\n" + LATIN1 + b",neg\n", "tsv": b"text\tlabel\ngood\tpos\n" + LATIN1 + b"\tneg\n",
             "jsonl": b'{"text": "good", "label": "pos"}\n{"text": "' + LATIN1 + b'", "label": "neg"}\n',
             "utf16.csv": "text,label\ngood,pos\n".encode("utf-16"), "garbage.parquet": b"garbage",
             "empty.parquet": b"", "latin.yaml": b"tasks: [mrpc]\n# " + LATIN1 + b"\n"}
    for name, data in files.items():
        (root / f"bad.{name}").write_bytes(data)
    tsv = root / "glue" / "MRPC"
    tsv.mkdir(parents=True)
    for split in ("train", "dev"):
        (tsv / f"{split}.tsv").write_bytes((glue / "MRPC" / f"{split}.tsv").read_bytes()[:2000] + LATIN1 + b"\n")
    from tests.analysis.stores import scaling_store  # a store with a known answer, then damaged

    for name in ("damaged", "all-damaged"):
        store = scaling_store(root / name / "raydim-store")
        trials = Path(store.root) / "trials"
        good = sorted(trials.glob("part-*.parquet"))
        if name == "all-damaged":
            for part in good:
                part.write_bytes(b"")
        (trials / "part-truncated.parquet").write_bytes(good[0].read_bytes()[:100])
        (trials / "part-zero.parquet").write_bytes(b"")
        (trials / "part-garbage.parquet").write_bytes(b"garbage")
        pq.write_table(pa.table({"x": [1]}), trials / "part-other.parquet")
    return {"ROOT": str(root), "GLUE": str(glue), "FILE": str(root / "file")}


def space(root: Path, text: str) -> str:
    path = root / f"space-{abs(hash(text))}.yaml"
    path.write_text(text)
    return str(path)


def cases(root: Path) -> list[tuple[str, list[str]]]:
    custom = ["--task", "x", "--text-columns", "text"]

    def files(name: str) -> list[str]:
        return [*custom, "--train-file", f"ROOT/bad.{name}", "--eval-file", f"ROOT/bad.{name}"]

    search = ["search", "--data-dir", "GLUE", "--storage", "ROOT/runs"]
    train = ["train", "--data-dir", "GLUE", "--method", "full", "--epochs", "1", "--max-train-samples", "8",
             "--max-eval-samples", "8", "--quiet"]
    spaces = ["tasks: [mrpc]\nsearch: {max_trials: three}\n", "tasks: [mrpc]\ntrain: {batch_size: '16'}\n",
              "tasks: [mrpc]\nbogus: 1\ndata: {b: 1}\ntrain: {b: 1}\nsearch: {b: 1}\nresources: {b: 1}\n",
              "tasks: []\n", "models: []\n", "methods: []\n", "checkpoints: []\n", "tasks: [[mrpc]]\n",
              "tasks: [mrpc]\ndata: {data_dir: 5, max_train_samples: '100'}\n", "tasks: [mrpc]\nstorage: 5\n",
              "tasks: [mrpc]\nname: 5\n", "tasks: [mrpc]\nbaselines: {mrpc: high}\n", "tasks: [mrpc]\ntrain: [1]\n",
              "- a\n- b\n", "tasks: [mrpc]\nresources: {cpus_per_trial: '2'}\n",
              "tasks: [mrpc]\ntrain: {bf16: 'yes', epochs: 1.5}\n"]
    return [
        *[("1 encoding", ["tasks", *files(kind)]) for kind in ("csv", "tsv", "jsonl", "utf16.csv", "garbage.parquet",
                                                               "empty.parquet")],
        ("1 encoding", ["tasks", "--task", "mrpc", "--data-dir", "ROOT/glue"]),
        ("1 encoding", [*search, "--space", "ROOT/bad.latin.yaml"]),
        ("2 model limit", [*train, "--max-length", "2048"]),
        ("2 model limit", [*search, "--max-length", "2048"]),
        ("2 model limit", [*search, "--model", "roberta-large", "--max-length", "513"]),
        *[("3 storage", ["search", "--data-dir", "GLUE", "--storage", s])
          for s in ("FILE/sub", "/proc/raydim", "/sys/raydim", BUCKET, "s3://no-such-bucket-raydim/x")],
        *[("3 storage", [command, "--storage", BUCKET]) for command in ("report", "status")],
        *[("4 damaged store", [command, "--storage", f"ROOT/{name}"]) for command in ("report", "status")
          for name in ("damaged", "all-damaged")],
        *[("5 no cluster", [*search, "--address", a]) for a in ("127.0.0.1:1", "ray://127.0.0.1:1", "head-node")],
        *[("6 outputs", [*train, "--output", o]) for o in ("FILE/sub/r.json", "/proc/r.json", "ROOT")],
        *[("6 outputs", [*search, "--output", o]) for o in ("FILE/sub/r.json", "/proc/r.json", "ROOT")],
        *[("6 outputs", ["report", "--storage", "ROOT/damaged", "--figures", f]) for f in ("FILE/sub", "/proc/f", "FILE")],
        *[("7 search space", [*search, "--space", space(root, text)]) for text in spaces],
        *[("8 counts", [*train, option, value]) for option, value in
          (("--threads", "0"), ("--threads", "-2"), ("--data-seed", "-1"), ("--weight-decay", "-1"))],
        ("8 counts", ["models", "--num-labels", "0"]),
        *[("8 counts", [*search, option, value]) for option, value in
          (("--cpus-per-trial", "-1"), ("--gpus-per-trial", "-1"), ("--max-concurrent", "0"),
           ("--max-failures", "-1"), ("--max-trials", "0"), ("--epochs", "0"), ("--batch-size", "0"))],
    ]


def run(argv: list[str], root: Path) -> tuple[bool, str, float]:
    """Whether ``raydim ARGV`` was handled, its last stderr line, and its seconds."""
    before = {p.name for p in root.iterdir()}
    err, started = io.StringIO(), time.monotonic()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code
        except BaseException as e:  # noqa: BLE001 - a traceback is what is being counted
            code, _ = 1, print(f"Traceback: {type(e).__name__}: {e}", file=sys.stderr)
    lines = err.getvalue().strip().splitlines()
    warned = code == 0 and len(lines) == 1 and lines[0].startswith("raydim: warning:") and "damaged" in argv[-1]
    failed_well = (code == 2 and bool(lines) and lines[-1].startswith("raydim") and ": error: " in lines[-1]
                   and all(line.startswith("raydim: warning: ") for line in lines[:-1]))  # the damage, then why
    untouched = {p.name for p in root.iterdir()} == before
    return (warned or failed_well) and untouched, (lines or ["(nothing)"])[-1], time.monotonic() - started


def refuse_ray(*args, **kwargs):
    raise RuntimeError("reached ray.init: the input was not refused before Ray started")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="../shared/data/glue", help="GLUE TSV folder (MRPC)")
    options = parser.parse_args()
    ray.init = refuse_ray
    socket.setdefaulttimeout(30)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        places = scratch(root, Path(options.data_dir).resolve())
        handled = 0
        todo = cases(root)
        for kind, argv in todo:
            argv = [next((a.replace(k, v, 1) for k, v in places.items() if a.startswith(k)), a) for a in argv]
            ok, line, seconds = run(argv, root)
            handled += ok
            command = " ".join(argv).replace(tmp, "…").replace(places["GLUE"], "GLUE")
            print(f"| {kind} | `{command}` | {'yes' if ok else 'NO'} | {seconds:.1f}s | "
                  f"{line.replace(tmp, '…')[:160]} |", flush=True)
        print(f"\n{handled} of {len(todo)} bad inputs handled")
