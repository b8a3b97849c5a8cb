"""``facechain lab list|run``: the recognition/robustness methods' small-scale experiments, each arm
against the paper's baseline over paired seeds."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..progress import TqdmProgress
from .common import add_command, add_group

MAX_SEEDS = 100


def add_lab_commands(commands) -> None:
    actions = add_group(
        commands,
        "lab",
        "recognition/robustness lab: list and run the methods' experiments",
        "The recognition and robustness methods (RTS, Unicom, InfoGrowth, Dash, DAL, ...), each with a "
        "small experiment on scikit-learn's digits that tests the paper's claim against its baseline.",
    )
    listing = add_command(actions, "list", "the experiments, with the paper and the claim each one tests")
    listing.set_defaults(run=run_lab_list)
    run = add_command(
        actions,
        "run",
        "run one experiment (or all) over paired seeds and print the baseline-vs-method table",
        "Every arm of an experiment trains on the same data, split and corruption for a seed; the verdict rests "
        "on the paired differences: 'reproduced' when the method's advantage exceeds one standard error, "
        "'not reproduced' when the baseline's does, else 'inconclusive'.",
    )
    run.add_argument("method", help="experiment name from `facechain lab list`, or 'all'")
    run.add_argument("--seeds", type=int, default=5, help=f"seeds 0..N-1 (1-{MAX_SEEDS})")
    run.add_argument("--quick", action="store_true", help="the seconds-long version (smaller, fewer epochs)")
    run.add_argument("--out", type=Path, help="folder for <method>.json and <method>.png (the metric per seed)")
    run.add_argument("--threads", type=int, default=1, help="torch threads (1-64)")
    run.set_defaults(run=run_lab_run)


def run_lab_list(args: argparse.Namespace) -> int:
    from ..lab import all_experiments

    for experiment in all_experiments().values():
        better = "higher" if experiment.higher_is_better else "lower"
        print(
            f"{experiment.name:<12} {experiment.title}\n{'':<12} {experiment.paper}\n{'':<12} tests: "
            f"{experiment.expectation} ({experiment.metric}, {better} is better)\n"
        )
    return 0


def run_lab_run(args: argparse.Namespace) -> int:
    from ..validation import check_between

    check_between("--threads", args.threads, 1, 64)  # before torch loads: a bad value is refused at once
    check_between("--seeds", args.seeds, 1, MAX_SEEDS)
    import torch

    from ..errors import BadArguments
    from ..lab import all_experiments
    from ..lab.harness.experiment import plot, run_experiment, save, table

    torch.set_num_threads(args.threads)
    experiments = all_experiments()
    names = list(experiments) if args.method == "all" else [args.method]
    unknown = [name for name in names if name not in experiments]
    if unknown:
        raise BadArguments(f"no experiment named {unknown[0]!r}; `facechain lab list` shows {', '.join(experiments)}")
    for name in names:
        experiment = experiments[name]
        with TqdmProgress(name, "seed") as bar:
            result = run_experiment(experiment, list(range(args.seeds)), args.quick, progress=bar)
        print(table(experiment, result) + "\n")
        if args.out:
            save(result, args.out / f"{name}.json")
            plot(experiment, result, args.out / f"{name}.png")
    return 0
