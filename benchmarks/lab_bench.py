"""Every lab experiment at its full (default) size over paired seeds: the baseline and the method as
mean +- sd, the paired difference, and the verdict on the paper's claim; a markdown table for
docs/results.md and one JSON with every seed's figures.

    python benchmarks/lab_bench.py [--seeds 5] [--only dal,doe] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from facechain.atomic import staged_file  # noqa: E402
from facechain.lab import all_experiments  # noqa: E402
from facechain.lab.harness.experiment import run_experiment, table  # noqa: E402


def row(experiment, result) -> str:
    def cell(arm: str) -> str:
        return f"{result.mean[arm][experiment.metric]:.3f} ± {result.sd[arm][experiment.metric]:.3f}"

    better = "↑" if experiment.higher_is_better else "↓"
    return (
        f"| {experiment.title} | {experiment.claim} | {experiment.metric} {better} | {experiment.baseline}: "
        f"{cell(experiment.baseline)} | {experiment.method}: {cell(experiment.method)} | "
        f"{result.difference:+.3f} ± {result.difference_sd:.3f}, {result.wins}/{len(result.seeds)} | "
        f"{result.verdict} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--only", help="comma-separated experiment names (default: all)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "lab_bench.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    experiments = all_experiments()
    names = args.only.split(",") if args.only else list(experiments)
    report, rows = {}, []
    for name in names:
        experiment = experiments[name]
        started = time.perf_counter()
        result = run_experiment(experiment, list(range(args.seeds)))
        seconds = time.perf_counter() - started
        print(table(experiment, result) + f"\n({seconds:.0f} s)\n", flush=True)
        report[name] = {
            **asdict(result),
            "seconds": seconds,
            "metric": experiment.metric,
            "baseline": experiment.baseline,
            "method": experiment.method,
            "claim": experiment.claim,
        }
        rows.append(row(experiment, result))
    print("| experiment | paper's headline | metric | baseline | method | paired difference, wins | verdict |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    out = Path(args.out)
    previous = json.loads(out.read_text()) if out.is_file() and args.only else {}
    with staged_file(out) as staging:
        staging.write_text(json.dumps({**previous, **report}, indent=2))


if __name__ == "__main__":
    main()
