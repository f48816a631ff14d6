"""What one study trial costs on this CPU: train-step and evaluation seconds on the task's real rows.

    python studies/time_trial.py --task sst2 --model minilm-l6 --data-dir ../shared/data/glue \
        [--methods full,said,did] [--d 1000] [--steps 10] [--threads 1] [--train-eval-samples 256]

``benchmarks/bench_step.py`` times full-length random batches (32 × 128 tokens); a trial's batches are
real rows padded to their own longest (``group_by_length`` as the study's spaces set it), far shorter on
SST-2's phrases. So this times ``--steps`` steps of the training loop's own ``train_step`` on the first
batches of a real epoch (after one untimed warm-up step), and one pass of ``evaluate`` over what a trial
evaluates after each epoch (the dev split and ``--train-eval-samples`` train rows). A trial then costs
about load + epochs × (⌈rows / batch⌉ × step + eval) seconds of one CPU. Both wall and CPU seconds are
printed, with the machine's load average: on a shared machine the wall time grows with the load, while a
one-thread process's CPU time stays close to what the step costs on a quiet core.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch

from raydim.data.loading import load_task_data, subsample
from raydim.data.tokenize import make_dataloader, tokenize_task_data
from raydim.methods import get_method
from raydim.models import load_model, load_tokenizer, parse_model_ref
from raydim.subspace.projected import SubspaceConfig
from raydim.train.evaluate import evaluate
from raydim.train.loop import set_threads, train_step


def sample_batches(train, tokenizer, args: argparse.Namespace) -> tuple[list[dict[str, torch.Tensor]], float]:
    """``--steps`` + 1 batches drawn at random from one real epoch, so their mean step is the epoch's; and
    the epoch's mean padded length, to compare the sample's with.

    Grouped by length, an epoch's first batches can be all short or all long; collating a whole
    epoch costs nothing next to training on it.
    """
    epoch = list(make_dataloader(train, tokenizer, args.batch_size, shuffle=True, seed=0,
                                 group_by_length=args.group_by_length))
    picks = torch.randperm(len(epoch), generator=torch.Generator().manual_seed(0))[:args.steps + 1]
    return [epoch[i] for i in picks.tolist()], statistics.mean(b["input_ids"].shape[1] for b in epoch)


def time_method(method: str, args: argparse.Namespace, data, tokenized, tokenizer) -> dict:
    started = time.perf_counter()
    ref = parse_model_ref(args.model)
    model = load_model(ref, data.task.num_labels, seed=0)
    subspace = None if method == "full" else SubspaceConfig(d=args.d)
    wrapped = get_method(method).build(model, subspace, str(ref))
    # the rate does not change a step's time
    optimizer = torch.optim.AdamW(wrapped.trainable_parameters(), lr=1e-4 if method == "full" else 1e-2)
    load_seconds = time.perf_counter() - started

    train = tokenized[data.task.train_split]
    model.train()
    batches, epoch_length = sample_batches(train, tokenizer, args)
    wall, cpu = [], []
    for i, batch in enumerate(batches):
        started, cpu_started = time.perf_counter(), time.process_time()
        train_step(wrapped, optimizer, batch)
        if i:  # the first step pays for lazy allocations and numba's compiled-code load
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)

    started, cpu_started = time.perf_counter(), time.process_time()
    splits = [tokenized[split] for split in data.task.eval_splits] + [subsample(train, args.train_eval_samples, 0)]
    for split in splits:
        evaluate(model, make_dataloader(split, tokenizer, args.eval_batch_size), data.task, torch.device("cpu"))
    eval_wall, eval_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {"method": method, "step_s": statistics.mean(wall), "step_cpu_s": statistics.mean(cpu),
            "steps_per_epoch": -(-len(train) // args.batch_size), "padded_length_epoch": epoch_length,
            "padded_length_sample": statistics.mean(b["input_ids"].shape[1] for b in batches[1:]),
            "eval_s": eval_wall, "eval_cpu_s": eval_cpu, "load_s": load_seconds}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", default="sst2")
    p.add_argument("--model", default="minilm-l6")
    p.add_argument("--data-dir")
    p.add_argument("--methods", default="full,said")
    p.add_argument("--d", type=int, default=1000)
    p.add_argument("--steps", type=int, default=10, help="timed steps, on batches drawn from a real epoch")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--eval-batch-size", type=int, default=128)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--train-eval-samples", type=int, default=256)
    p.add_argument("--threads", type=int, default=1, help="a one-CPU trial's threads (default: 1)")
    p.add_argument("--no-group-by-length", dest="group_by_length", action="store_false")
    args = p.parse_args()
    set_threads(args.threads)
    data = load_task_data(args.task, data_dir=args.data_dir)
    ref = parse_model_ref(args.model)
    tokenizer = load_tokenizer(ref)
    tokenized = tokenize_task_data(data, tokenizer, args.max_length)
    for method in args.methods.split(","):
        row = time_method(method, args, data, tokenized, tokenizer)
        print(json.dumps({"task": args.task, "model": args.model, "d": args.d, "threads": args.threads,
                          "load_avg_1m": round(os.getloadavg()[0], 2), **{k: round(v, 3) if isinstance(v, float)
                                                                           else v for k, v in row.items()}}),
              flush=True)


if __name__ == "__main__":
    main()
