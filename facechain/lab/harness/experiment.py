"""Paired-seed experiments: every arm runs on the same data, split and corruption for a seed, so the
method-minus-baseline difference is taken seed by seed and the verdict on the paper's claim rests on
those paired differences, not on two noisy means.

Verdict on the primary metric: "reproduced" when the mean paired difference favours the method by
more than one standard error, "not reproduced" when it favours the baseline by more than one, and
"inconclusive" in between (or with a single seed).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ...atomic import staged_file
from ...progress import Progress

Arms = dict[str, dict[str, float]]


@dataclass(frozen=True)
class Experiment:
    """One method's small-scale test. ``run(seed, quick)`` returns arm -> metric -> value; ``quick``
    is a seconds-long version (tests, the app's preview) of the minutes-long default."""

    name: str
    title: str
    paper: str
    claim: str  # the paper's headline, as the paper states it
    expectation: str  # what should happen here if the mechanism works, in one sentence
    baseline: str
    method: str
    metric: str
    higher_is_better: bool
    run: Callable[[int, bool], Arms] = field(repr=False, compare=False)


@dataclass
class LabResult:
    experiment: str
    seeds: list[int]
    quick: bool
    per_seed: list[Arms]
    mean: Arms
    sd: Arms
    difference: float  # mean paired (method - baseline) on the primary metric
    difference_sd: float
    wins: int  # seeds where the method beat the baseline on the primary metric
    verdict: str


def run_experiment(
    experiment: Experiment, seeds: list[int], quick: bool = False, progress: Progress | None = None
) -> LabResult:
    per_seed = []
    for done, seed in enumerate(seeds):
        per_seed.append(experiment.run(seed, quick))
        if progress:
            progress(done + 1, len(seeds))
    arms = list(per_seed[0])
    metrics = {arm: list(per_seed[0][arm]) for arm in arms}
    mean = {arm: {m: float(np.mean([s[arm][m] for s in per_seed])) for m in metrics[arm]} for arm in arms}
    sd = {
        arm: {m: float(np.std([s[arm][m] for s in per_seed], ddof=1)) if len(seeds) > 1 else 0.0 for m in metrics[arm]}
        for arm in arms
    }
    sign = 1.0 if experiment.higher_is_better else -1.0
    diffs = np.array(
        [s[experiment.method][experiment.metric] - s[experiment.baseline][experiment.metric] for s in per_seed]
    )
    diff_sd = float(np.std(diffs, ddof=1)) if len(diffs) > 1 else 0.0
    return LabResult(
        experiment.name,
        list(seeds),
        quick,
        per_seed,
        mean,
        sd,
        float(diffs.mean()),
        diff_sd,
        int(np.sum(sign * diffs > 0)),
        verdict(sign * diffs),
    )


def verdict(favour: np.ndarray) -> str:
    """``favour``: paired differences, positive where the method did better."""
    if len(favour) < 2:
        return "inconclusive"
    standard_error = np.std(favour, ddof=1) / math.sqrt(len(favour))
    if favour.mean() > standard_error:
        return "reproduced"
    if favour.mean() < -standard_error:
        return "not reproduced"
    return "inconclusive"


def table(experiment: Experiment, result: LabResult) -> str:
    """Arms x metrics as mean +- sd over seeds, then the paired verdict on the primary metric."""
    metrics = list(dict.fromkeys(m for values in result.mean.values() for m in values))  # every arm's, in order
    width = max(len(arm) for arm in result.mean) + 2
    lines = [
        f"{experiment.title} ({len(result.seeds)} seeds{', quick' if result.quick else ''})",
        f"{'arm':<{width}}" + "".join(f"{m:>{max(18, len(m) + 2)}}" for m in metrics),
    ]
    for arm in result.mean:
        cells = [
            f"{result.mean[arm][m]:.3f} +- {result.sd[arm][m]:.3f}" if m in result.mean[arm] else "-" for m in metrics
        ]
        lines.append(f"{arm:<{width}}" + "".join(f"{c:>{max(18, len(m) + 2)}}" for c, m in zip(cells, metrics)))
    better = "higher" if experiment.higher_is_better else "lower"
    lines.append(
        f"{experiment.metric} ({better} is better): {experiment.method} - {experiment.baseline} = "
        f"{result.difference:+.4f} +- {result.difference_sd:.4f} (paired), method better in "
        f"{result.wins}/{len(result.seeds)} seeds: {result.verdict}"
    )
    lines.append(f"paper: {experiment.claim}")
    return "\n".join(lines)


def save(result: LabResult, path: Path) -> Path:
    with staged_file(Path(path)) as staging:
        staging.write_text(json.dumps(asdict(result), indent=2))
    return Path(path)


def plot(experiment: Experiment, result: LabResult, path: Path) -> Path:
    """The primary metric per seed, one line per arm (paired seeds make crossings visible)."""
    from ...plots import line_chart

    series = {
        arm: [
            (seed, values[arm][experiment.metric])
            for seed, values in zip(result.seeds, result.per_seed)
            if experiment.metric in values[arm]
        ]
        for arm in result.mean
    }
    with staged_file(Path(path)) as staging:
        line_chart(
            {arm: points for arm, points in series.items() if points},
            staging,
            f"{experiment.title}: {experiment.metric} per seed",
            every_point=True,
        )
    return Path(path)
