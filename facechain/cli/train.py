"""``facechain train``: a LoRA digital twin on a prepared dataset. The options, their help and their
defaults come from ``TrainConfig``'s fields, declared once there."""

from __future__ import annotations

import argparse
import sys

from ..portrait.training.config import TrainConfig
from ..progress import TqdmProgress
from .common import add_command, add_config_options, config_from_args


def add_train_command(commands) -> None:
    train = add_command(
        commands,
        "train",
        "train a LoRA digital twin on a prepared dataset (optionally with SuDe)",
        "Train a PEFT LoRA on the base model's UNet attention from a dataset made by `facechain prepare`. "
        "Writes pytorch_lora_weights.safetensors, train_log.jsonl, training.json, a model card and resumable "
        "checkpoints/ into --out (locked while the run lasts). Runs under `accelerate launch` too (several "
        "processes).",
    )
    add_config_options(train, TrainConfig, positional=("dataset",), required=("out",))
    train.set_defaults(run=run_train)


def run_train(args: argparse.Namespace) -> int:
    config = config_from_args(TrainConfig, args)
    from accelerate import PartialState  # after the arguments are checked: a bad one is refused at once

    from ..portrait import train

    speaks = PartialState().is_main_process  # under `accelerate launch`, one process reports
    if config.tiny and speaks:
        print(
            "note: training the tiny offline model (random weights): a demo of the workflow, not of quality",
            file=sys.stderr,
        )
    with TqdmProgress("train", "step", disable=not speaks) as bar:
        result = train(config, progress=bar)
    evals = result.eval_losses
    if speaks and evals:
        print(f"evaluation loss: {evals[0][1]:.4f} at step {evals[0][0]} -> {evals[-1][1]:.4f} at step {evals[-1][0]}")
    if speaks:
        print(f"LoRA: {result.lora_file}  ({result.steps} steps on {result.base_model})")
    return 0
