"""The ``raydim`` command: parse, validate, call the library, print.

Every user mistake surfaces as a :class:`RaydimError` and is printed as one line
with exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

from raydim.atomic import write_json_atomically
from raydim.data.tasks import DATA_DIR_ENV, GLUE_TASKS
from raydim.errors import DamagedStoreWarning, RaydimError
from raydim.methods import METHODS
from raydim.models.registry import ALIASES, DEFAULT_MODEL, parse_model_ref
from raydim.strategies import STRATEGIES
from raydim.table import format_table

if TYPE_CHECKING:
    from raydim.data.spec import DataSpec

# Only what parsing and --help need is imported above: each command imports its own libraries (torch,
# transformers, datasets, Ray, pandas) when it runs, so `raydim --help` and `raydim status` answer at once.


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, like every other raydim error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def positive_int(text: str) -> int:
    """An argparse type for counts (threads, labels): a typo such as ``--threads 0`` is refused, not clamped."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def add_data_options(p: argparse.ArgumentParser, defaults: bool = True) -> None:
    """Where a task's rows come from: GLUE (local TSV folder or hub) or the user's own files.

    Without ``defaults`` an option left out is absent from the parsed arguments
    (give the parser ``argument_default=SUPPRESS``), so it overrides nothing.
    """
    label_default, seed_default = ("label", 0) if defaults else (argparse.SUPPRESS, argparse.SUPPRESS)
    g = p.add_argument_group("data")
    g.add_argument("--data-dir", help=f"GLUE TSV root folder (holds MRPC/, RTE/, ...); default ${DATA_DIR_ENV}, "
                                      "else the Hugging Face hub")
    g.add_argument("--train-file", help="custom task: train rows (.csv, .tsv, .jsonl or .parquet)")
    g.add_argument("--eval-file", help="custom task: evaluation rows, same columns")
    g.add_argument("--text-columns", help="custom task: one or two comma-separated text columns")
    g.add_argument("--label-column", default=label_default, help="custom task: label column (default: label)")
    g.add_argument("--regression", action="store_true", help="custom task: the label is a number")
    g.add_argument("--max-train-samples", type=int, help="subsample the train split to this many rows (by --data-seed)")
    g.add_argument("--max-eval-samples", type=int, help="subsample each eval split to this many rows (by --data-seed)")
    g.add_argument("--data-seed", type=int, default=seed_default, help="seed that picks the subsample (default: 0)")


def data_spec_from_args(task_name: str, args: argparse.Namespace) -> DataSpec:
    """The data options as a :class:`DataSpec`."""
    from raydim.data.spec import DataSpec  # its loaders import datasets

    columns = tuple(c.strip() for c in args.text_columns.split(",")) if args.text_columns else ()
    return DataSpec(task=task_name, data_dir=args.data_dir, train_file=args.train_file, eval_file=args.eval_file,
                    text_columns=columns, label_column=args.label_column, regression=args.regression,
                    max_train_samples=args.max_train_samples, max_eval_samples=args.max_eval_samples,
                    seed=args.data_seed)


def _cmd_tasks(args: argparse.Namespace) -> None:
    if args.task is None:
        rows = [(t.name, ", ".join(t.text_fields), "regression" if t.is_regression else ", ".join(t.labels or ()),
                 ", ".join(f"{m}*" if m == t.primary_metric else m for m in t.metrics), ", ".join(t.eval_splits))
                for t in GLUE_TASKS.values()]
        print(format_table(("task", "text fields", "labels", "metrics (* = primary, used for d90)", "eval splits"),
                           rows))
        return
    data = data_spec_from_args(args.task, args).load()
    baselines = data.trivial_baselines()
    print(f"task {data.task.name} from {data.source}")
    rows = []
    for split, ds in data.splits.items():
        counts = data.label_counts(split)
        trivial = ", ".join(f"{k}={v:.4f}" for k, v in baselines[split].items())
        rows.append((split, len(ds), " / ".join(f"{k}:{v}" for k, v in counts.items()) or "-", trivial))
    print(format_table(("split", "rows", "labels", "trivial baseline (constant predictor fitted on train)"), rows))


def _cmd_models(args: argparse.Namespace) -> None:
    from raydim.models.loading import count_parameters  # transformers: builds each architecture's config

    if args.models:
        rows = []
        for spec in args.models:
            ref = parse_model_ref(spec)
            rows.append((str(ref), ref.source, ref.checkpoint, f"{count_parameters(ref, args.num_labels):,}"))
        print(format_table(("model", "source", "checkpoint", "parameters"), rows))
        return
    rows = [(a.name, a.hub_id, f"{count_parameters(parse_model_ref(a.name), args.num_labels):,}", a.description)
            for a in ALIASES.values()]
    print(format_table(("alias", "hub id", "parameters", "description"), rows))
    print("\nalso: any local model directory, any hub id (org/model[@revision]); "
          "append @random-init for freshly initialised weights")


def _cmd_train(args: argparse.Namespace) -> None:
    from raydim.train import TrainConfig, train  # torch-heavy: only for the commands that train
    from raydim.train.loop import set_threads
    from raydim.writable import check_file

    config = TrainConfig(
        data=data_spec_from_args(args.task, args), model=args.model, method=args.method, d=args.d, lr=args.lr,
        epochs=args.epochs, batch_size=args.batch_size, max_length=args.max_length, seed=args.seed,
        projection_seed=args.projection_seed, warmup_ratio=args.warmup_ratio, weight_decay=args.weight_decay,
        normalization=args.normalization, grouping=args.grouping, device=args.device, bf16=args.bf16,
        group_by_length=args.group_by_length,
    )
    if args.output:
        check_file(args.output, "--output")  # before minutes of training, not after
    set_threads(args.threads)
    result = train(config, progress=not args.quiet)
    metric = f"{config.data.task}: {result.primary_metric}"
    rows = [(e.epoch, f"{e.train_loss:.4f}", *(f"{e.metrics[k]:.4f}" for k in _metric_columns(result)),
             f"{e.seconds:.0f}s") for e in result.history]
    print(format_table(("epoch", "train loss", *_metric_columns(result), "time"), rows))
    best, final = result.best, result.final
    print(f"{config.method} d={config.d or result.D:,} (trainable {result.num_trainable:,} of D={result.D:,}), "
          f"lr={config.learning_rate:g}: {metric} best {best.primary:.4f} (epoch {best.epoch}), "
          f"final {final.primary:.4f}; {result.seconds:.0f}s on {result.device}")
    if args.output:
        write_output(args.output, result.to_dict())


# search option → (spec section, field); sections None are top-level spec fields
_SEARCH_OVERRIDES = {
    "task": (None, "tasks"), "model": (None, "models"), "checkpoint": (None, "checkpoints"),
    "method": (None, "methods"), "name": (None, "name"), "storage": (None, "storage"),
    "cpus_per_trial": (None, "cpus_per_trial"), "gpus_per_trial": (None, "gpus_per_trial"),
    "max_concurrent": (None, "max_concurrent"), "max_failures": (None, "max_failures"),
    "data_dir": ("data", "data_dir"), "train_file": ("data", "train_file"), "eval_file": ("data", "eval_file"),
    "text_columns": ("data", "text_columns"), "label_column": ("data", "label_column"),
    "regression": ("data", "regression"), "max_train_samples": ("data", "max_train_samples"),
    "max_eval_samples": ("data", "max_eval_samples"), "data_seed": ("data", "seed"),
    "epochs": ("train", "epochs"), "batch_size": ("train", "batch_size"), "max_length": ("train", "max_length"),
    "normalization": ("train", "normalization"), "device": ("train", "device"), "bf16": ("train", "bf16"),
    "group_by_length": ("train", "group_by_length"),
    "strategy": ("search", "strategy"), "ratio": ("search", "ratio"), "threshold": ("search", "threshold"),
    "tolerance": ("search", "tolerance"), "d_min": ("search", "d_min"), "d_max": ("search", "d_max"),
    "max_trials": ("search", "max_trials"), "seed": ("search", "seed"),
}


LIVE_EVERY_S = 60.0  # how often a running search prints its running trials' steps and the time left

# what --resume may be given: where the run is, where Ray is, where the table goes
_RESUME_OPTIONS = {"command", "func", "resume", "space", "name", "storage", "address", "output"}


def search_spec_from_args(args: argparse.Namespace):
    """``--space`` (or the built-in quick CPU profile) with every option given on the command line applied."""
    from raydim.tune.spec import SearchSpec

    spec = SearchSpec.from_yaml(args.space) if getattr(args, "space", None) else SearchSpec()
    overrides: dict = {}
    for option, (section, name) in _SEARCH_OVERRIDES.items():
        if hasattr(args, option):
            if section is None:
                overrides[name] = getattr(args, option)
            else:
                overrides.setdefault(section, {})[name] = getattr(args, option)
    if hasattr(args, "baseline"):
        overrides["baselines"] = dict(_parse_baseline(b) for b in args.baseline)
    return spec.with_overrides(**overrides)


def _parse_baseline(text: str) -> tuple[str, float]:
    name, sep, value = text.rpartition("=")
    try:
        if not sep or not name:
            raise ValueError
        return name, float(value)
    except ValueError:
        raise RaydimError(f"--baseline {text!r} must be TASK=METRIC or TASK:MODEL@CHECKPOINT=METRIC, "
                          "e.g. --baseline mrpc=0.86") from None


def _cmd_search(args: argparse.Namespace) -> None:
    from raydim.search.results import INTERRUPTED
    from raydim.store import ResultsStore, d90_rows
    from raydim.tune import format_d90_table, print_progress, run_search
    from raydim.tune.cluster import check_address
    from raydim.tune.progress import format_launch
    from raydim.tune.tuner import resume_command
    from raydim.writable import check_file, check_storage

    resume = getattr(args, "resume", False)
    if resume:
        ignored = sorted(f"--{name.replace('_', '-')}" for name in vars(args) if name not in _RESUME_OPTIONS)
        if ignored:
            raise RaydimError(f"{', '.join(ignored)} would be ignored: --resume continues the run with the settings "
                              "it started with; drop them, or start a new run with another --name")
    spec = search_spec_from_args(args)
    output, address = getattr(args, "output", None), getattr(args, "address", None)
    # every output, the cluster and every task's data are checked here, before Ray starts
    if output:
        check_file(output, "--output")
    check_storage(spec.storage)
    check_address(address)
    # a new run loads every task's data, and every model checkpoint's tokenizer and config, here, so a bad path
    # or revision fails before Ray starts
    if not resume:
        print(f"raydim: search {spec.name!r}: checking the models and data of its {len(spec.keys())} key(s), then "
              "starting Ray", flush=True)
        check_models(spec)  # first: a missing revision or ladder checkpoint is named as such
    targets = None if resume else spec.targets()
    space = getattr(args, "space", None) or "the quick CPU profile (search_spaces/quick_cpu.yaml)"
    try:
        results = run_search(spec, targets=targets, address=address, resume=resume, on_progress=print_progress,
                             verbose=0, space=space, on_launch=lambda m: print(format_launch(m), flush=True),
                             live_every_s=LIVE_EVERY_S)
    except KeyboardInterrupt:  # a second Ctrl-C: Tune skips its last snapshot, the one before it is resumed
        results = None
    if results is not None:
        compute = {r.key: (r.cpu_hours, r.gpu_hours) for r in d90_rows(ResultsStore.at(spec.storage).rows(spec.name))}
        print(format_d90_table(results, compute))
        if output:
            write_output(output, [r.to_dict() for r in results])
    if results is None or any(INTERRUPTED in r.flags for r in results):
        print(f"raydim: search {spec.name!r} interrupted; continue it with: {resume_command(spec, address)}",
              file=sys.stderr)
        raise SystemExit(130)  # 128 + SIGINT, as a shell reports a command Ctrl-C stopped


def check_models(spec) -> None:
    """Every (model, checkpoint) of ``spec`` takes its ``max_length`` and loads as a classifier: a length beyond
    the model's positions, a missing revision or checkpoint is one line."""
    from raydim.models import check_classifier
    from raydim.tune.template import model_spec

    from raydim.models.loading import MaxLengthError, check_max_length
    from raydim.train import TrainConfig

    max_length = spec.train.get("max_length", TrainConfig.max_length)
    for model in spec.models:
        for checkpoint in spec.checkpoints:
            ref = parse_model_ref(model_spec(model, checkpoint))
            try:  # from the architecture's config alone (shipped for aliases): works offline
                check_max_length(ref, max_length)
            except MaxLengthError:
                raise
            except RaydimError:
                pass  # a config that cannot be read: check_classifier names why (no such revision, ...)
            check_classifier(ref)


def _cmd_report(args: argparse.Namespace) -> None:
    from raydim.analysis import build_report, format_report, format_trials, write_figures
    from raydim.store import ResultsStore
    from raydim.writable import check_folder

    if args.figures:
        check_folder(args.figures, "--figures")
    report = build_report(ResultsStore.at(args.storage), args.experiment, args.bits, args.delta)
    print((format_trials if args.trials else format_report)(report, args.format))
    if args.figures:
        try:
            paths = write_figures(report, args.figures)
        except OSError as e:  # the disk filled, or the folder went away, since the check
            raise RaydimError(f"cannot write the figures into {args.figures} ({e.strerror}); the tables above hold "
                              "the same results") from None
        for path in paths:
            print(f"raydim: wrote {path}", file=sys.stderr)


def _cmd_status(args: argparse.Namespace) -> None:
    if args.watch is not None and not args.watch > 0:
        raise RaydimError(f"--watch {args.watch:g} must be > 0 seconds between prints, e.g. --watch 30")
    from raydim.store.status import search_status
    from raydim.tune.progress import format_status  # no Ray: status reads files only

    try:
        while True:
            searches = search_status(args.storage, args.name)
            if args.watch:
                print(f"[raydim {time.strftime('%H:%M:%S')}] status")
            print("\n\n".join(format_status(s) for s in searches), flush=True)
            if not args.watch or all(s.finished for s in searches):
                return
            time.sleep(args.watch)
            print()
    except KeyboardInterrupt:  # how --watch is meant to end early: nothing went wrong
        return


def write_output(path: str, value: object) -> None:
    """``--output`` as JSON, at the end of the work; checked writable at its start, so only a disk that filled
    or a folder removed since can fail here, and the result printed above is not lost."""
    try:
        write_json_atomically(path, value)
    except OSError as e:
        raise RaydimError(f"cannot write --output {path} ({e.strerror}); the result is printed above") from None


def _metric_columns(result) -> list[str]:
    return [k for k in result.final.metrics if not k.endswith("/loss") or k == "validation/loss"]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="raydim", description="Measure the intrinsic dimension (d90) of fine-tuning on Ray Tune.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("tasks", help="list tasks, or describe one task's splits and trivial baseline")
    p.add_argument("--task", help="describe this task (a GLUE name, or a name for the custom files given)")
    add_data_options(p)
    p.set_defaults(func=_cmd_tasks)

    p = sub.add_parser("models", help="list model aliases with their parameter counts, or count given models")
    p.add_argument("models", nargs="*", metavar="MODEL", help="alias, local directory or hub id[@revision]")
    p.add_argument("--num-labels", type=positive_int, default=2, help="head width counted in the parameters (default: 2)")
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser("train", help="one fine-tune (full, DID or SAID) at one d, with per-epoch metrics")
    p.add_argument("--task", default="mrpc", help="GLUE task, or a name for the custom files given (default: mrpc)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"alias, directory or hub id[@revision] (default: {DEFAULT_MODEL})")
    p.add_argument("--method", default="said", choices=list(METHODS), help="default: said")
    p.add_argument("--d", type=int, help="subspace dimension (did/said); d counts SAID's per-layer scales too")
    p.add_argument("--lr", type=float, help="peak AdamW learning rate (default: full 1e-4; did/said 0.1 × √(10⁴/d))")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=128, help="tokens per example after truncation (default: 128)")
    p.add_argument("--seed", type=int, default=0, help="head init, batch order, dropout and (default) P's seed")
    p.add_argument("--projection-seed", type=int, help="seed of the random subspace P (default: --seed)")
    p.add_argument("--warmup-ratio", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--normalization", default="global", choices=["global", "per_tensor"],
                   help="scale P globally (Li et al., default) or per parameter tensor (authors' code); "
                        "see docs/subspace.md")
    p.add_argument("--grouping", default="layer", choices=["layer", "tensor"], help="SAID groups (default: layer)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (GPU)")
    p.add_argument("--group-by-length", action="store_true",
                   help="batch train rows of similar length: less padding, about a third faster on GLUE pairs")
    p.add_argument("--threads", type=positive_int, help="torch CPU threads (default: the CPUs this process may use)")
    p.add_argument("--output", help="also write the result as JSON to this file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_data_options(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("search", help="find d90 for every (task, model, checkpoint, method) on Ray Tune",
                       argument_default=argparse.SUPPRESS,
                       description="Options override the --space file, which defaults to the quick CPU profile "
                                   "(see search_spaces/quick_cpu.yaml).")
    p.add_argument("--space", help="search space YAML (search_spaces/*.yaml)")
    p.add_argument("--task", action="append", help="GLUE task (repeat for several), or the custom files' name")
    p.add_argument("--model", action="append", help="alias, directory or hub id (repeat for several)")
    p.add_argument("--checkpoint", action="append",
                   help="final, random-init, a hub revision or a ladder folder's checkpoint "
                        "(repeat for several; default: final)")
    p.add_argument("--method", action="append", choices=[m for m in METHODS if m != "full"],  # full: the baseline
                   help="repeat for several (default: said)")
    p.add_argument("--baseline", action="append", metavar="TASK=METRIC",
                   help="known full fine-tune metric: skips those full fine-tunes (repeat per task)")
    g = p.add_argument_group("search")
    g.add_argument("--strategy", choices=list(STRATEGIES),
                   help="default: d90 (bracket, then trials placed to narrow the d90 interval)")
    g.add_argument("--ratio", type=float, help="d90's fraction of the full fine-tune (default: 0.9)")
    g.add_argument("--threshold", choices=["paper", "relative"],
                   help="ratio × full (paper, default), or chance + ratio × (full − chance)")
    g.add_argument("--tolerance", type=float, help="stop once hi/lo <= 1 + tolerance (default: 0.1)")
    g.add_argument("--d-min", type=int)
    g.add_argument("--d-max", type=int)
    g.add_argument("--max-trials", type=int, help="trials per key at most, baseline included")
    g.add_argument("--seed", type=int, help="first training seed and the samplers' seed")
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int)
    g.add_argument("--batch-size", type=int)
    g.add_argument("--max-length", type=int)
    g.add_argument("--normalization", choices=["global", "per_tensor"])
    g.add_argument("--device", help="auto, cpu, cuda")
    g.add_argument("--bf16", action="store_true", help="bf16 autocast (GPU)")
    g.add_argument("--group-by-length", action="store_true", help="batch train rows of similar length (faster)")
    g = p.add_argument_group("Ray")
    g.add_argument("--address", help="join a running cluster ('auto' on a cluster node); default: start Ray here")
    g.add_argument("--storage", help="results folder or s3://... URI (default: ~/ray_results)")
    g.add_argument("--name", help="the run's name: its folder under --storage (default: raydim-search)")
    g.add_argument("--resume", action="store_true", help="continue the run named --name where it stopped")
    g.add_argument("--cpus-per-trial", type=float)
    g.add_argument("--gpus-per-trial", type=float, help="fractions pack several trials per GPU")
    g.add_argument("--max-concurrent", type=int, help="trials at once (default: what the cluster fits)")
    g.add_argument("--max-failures", type=int, help="restarts of a crashed trial from its checkpoint")
    p.add_argument("--output", help="also write the d90 results as JSON to this file")
    add_data_options(p, defaults=False)
    p.set_defaults(func=_cmd_search)

    p = sub.add_parser("report", help="the d90 table of every search in a results store, the bound, and figures",
                       description="Reads the results store of --storage (STORAGE/raydim-store, written by every "
                                   "raydim search); see docs/store.md.")
    p.add_argument("--storage", help="the --storage the searches ran with (default: ~/ray_results)")
    p.add_argument("--experiment", help="one search, by its --name (default: every search in the store)")
    p.add_argument("--format", default="table", choices=["table", "md", "csv", "json"],
                   help="table (default), md, or every column as csv or json")
    p.add_argument("--trials", action="store_true",
                   help="every trial instead of the d90 table: d, lr, seed, score, epochs, seconds")
    p.add_argument("--figures", metavar="DIR", help="also write the PNG figures into this folder")
    p.add_argument("--bits", type=float, default=8.0, help="q, bits per coordinate of θ_d in the bound (default: 8)")
    p.add_argument("--delta", type=float, default=0.05, help="δ, the bound's failure probability (default: 0.05)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("status", help="where each search stands, from the results store: run it beside a search",
                       description="Reads the results store of --storage (STORAGE/raydim-store: each search's "
                                   "manifest from its launch, a row per ended trial, each running trial's step) "
                                   "and the searcher state Tune saves in STORAGE/NAME (the trials running).")
    p.add_argument("--storage", help="the --storage the searches ran with (default: ~/ray_results)")
    p.add_argument("--name", help="one search, by its --name (default: every search in the store, "
                                  "the latest active last)")
    p.add_argument("--watch", type=float, metavar="SECONDS",
                   help="print again every SECONDS until every search shown has finished (Ctrl-C stops)")
    p.set_defaults(func=_cmd_status)
    return parser


def _show_warning(shown: set[str], message, category, filename, lineno, file=None, line=None) -> None:
    """raydim's own warnings (damage found and worked around) as one line, like its errors, each once per command
    (a command reads the store more than once); other warnings as Python shows them."""
    if not issubclass(category, DamagedStoreWarning):
        _python_show_warning(message, category, filename, lineno, file, line)
    elif str(message) not in shown:
        shown.add(str(message))
        print(f"raydim: warning: {message}", file=sys.stderr)


_python_show_warning = warnings.showwarning


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", DamagedStoreWarning)
            warnings.showwarning = functools.partial(_show_warning, set())
            args.func(args)
    except RaydimError as e:
        print(f"raydim: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
