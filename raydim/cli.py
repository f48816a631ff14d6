"""The ``raydim`` command: parse, validate, call the library, print.

Every user mistake surfaces as a :class:`RaydimError` and is printed as one line
with exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from raydim.data import GLUE_TASKS
from raydim.data.loading import DATA_DIR_ENV
from raydim.data.spec import DataSpec
from raydim.errors import RaydimError
from raydim.models import ALIASES, count_parameters, parse_model_ref


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, like every other raydim error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned plain-text columns."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)


def add_data_options(p: argparse.ArgumentParser) -> None:
    """Where a task's rows come from: GLUE (local TSV folder or hub) or the user's own files."""
    g = p.add_argument_group("data")
    g.add_argument("--data-dir", help=f"GLUE TSV root folder (holds MRPC/, RTE/, ...); default ${DATA_DIR_ENV}, "
                                      "else the Hugging Face hub")
    g.add_argument("--train-file", help="custom task: train rows (.csv, .tsv, .jsonl or .parquet)")
    g.add_argument("--eval-file", help="custom task: evaluation rows, same columns")
    g.add_argument("--text-columns", help="custom task: one or two comma-separated text columns")
    g.add_argument("--label-column", default="label", help="custom task: label column (default: label)")
    g.add_argument("--regression", action="store_true", help="custom task: the label is a number")
    g.add_argument("--max-train-samples", type=int, help="subsample the train split to this many rows (by --data-seed)")
    g.add_argument("--max-eval-samples", type=int, help="subsample each eval split to this many rows (by --data-seed)")
    g.add_argument("--data-seed", type=int, default=0, help="seed that picks the subsample (default: 0)")


def data_spec_from_args(task_name: str, args: argparse.Namespace) -> DataSpec:
    """The data options as a :class:`DataSpec`."""
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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="raydim", description="Measure the intrinsic dimension (d90) of fine-tuning on Ray Tune.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("tasks", help="list tasks, or describe one task's splits and trivial baseline")
    p.add_argument("--task", help="describe this task (a GLUE name, or a name for the custom files given)")
    add_data_options(p)
    p.set_defaults(func=_cmd_tasks)

    p = sub.add_parser("models", help="list model aliases with their parameter counts, or count given models")
    p.add_argument("models", nargs="*", metavar="MODEL", help="alias, local directory or hub id[@revision]")
    p.add_argument("--num-labels", type=int, default=2, help="head width counted in the parameters (default: 2)")
    p.set_defaults(func=_cmd_models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except RaydimError as e:
        print(f"raydim: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
