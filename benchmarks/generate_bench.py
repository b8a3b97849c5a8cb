"""Seconds per image of our portrait generation against plain diffusers, and the cost of ranking.

Both arms sample on the same tiny offline model with the same trained person LoRA, prompt, negative
prompt, scheduler (DPM-Solver++ Karras), steps, guidance, resolution, batch and seeds, in one process,
alternating arm by arm so that machine noise falls on both:

- plain: ``StableDiffusionPipeline`` + ``load_lora_weights`` (the LoRA fused at weight 1 by adapter);
- ours:  ``facechain.portrait.generation.generate.render`` (``PortraitPipeline``, named adapter, prompt building).

Ranking is timed separately on real 512 px portraits (the tiny model draws no faces): one face
detection + embedding per image with the offline dlib engine.

    python benchmarks/generate_bench.py [--images 4] [--steps 20] [--resolution 128] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from train_bench import make_dataset  # noqa: E402

from facechain.config import Settings  # noqa: E402
from facechain.examples import astronaut, framed  # noqa: E402
from facechain.faces import load_analyzer  # noqa: E402
from facechain.portrait import (  # noqa: E402
    GenerationRequest,  # noqa: E402
    TrainConfig,
    train,
)
from facechain.portrait.generation.generate import PipelineCache, Portrait, rank, render  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "generate_bench.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from diffusers import StableDiffusionPipeline

    from pipelines import PORTRAIT_SOLVERS

    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(home=Path(scratch) / "home", face_backend="dlib")
        dataset, _, _ = make_dataset(Path(scratch))
        model = Path(scratch) / "model"
        train(
            TrainConfig(dataset=dataset, out=model, tiny=True, steps=10, validation_images=0, sude_weight=0), settings
        )
        request = GenerationRequest(
            model=model,
            count=args.images,
            seed=0,
            steps=args.steps,
            batch_size=args.images,
            resolution=args.resolution,
            person_weight=1.0,
        )
        cache = PipelineCache()
        first = render(request, settings, cache=cache)  # loads the pipeline and adapter once

        plain = StableDiffusionPipeline.from_pretrained(
            settings.home / "tiny-sd", safety_checker=None, requires_safety_checker=False
        )
        plain.load_lora_weights(model)
        plain.scheduler = PORTRAIT_SOLVERS["dpm++"].build(plain.scheduler.config)
        plain.set_progress_bar_config(disable=True)

        def run_plain():
            return plain(
                [first.prompt] * args.images,
                negative_prompt=[first.negative_prompt] * args.images,
                height=args.resolution,
                width=args.resolution,
                num_inference_steps=args.steps,
                guidance_scale=first.settings["guidance"],
                generator=[torch.Generator().manual_seed(s) for s in range(args.images)],
            ).images

        def run_ours():
            return [p.image for p in render(request, settings, cache=cache).portraits]

        run_plain()  # warm-up
        times = {"plain": [], "ours": []}
        for _ in range(args.repeats):
            for name, arm in (("plain", run_plain), ("ours", run_ours)):
                started = time.perf_counter()
                arm()
                times[name].append((time.perf_counter() - started) / args.images)
        same = max(
            int(np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16)).max())
            for a, b in zip(run_plain(), run_ours())
        )

        analyzer = load_analyzer("dlib", settings)
        person = astronaut()
        portraits = [
            framed(person, 60 + 8 * i, 8 * i, 420 - 8 * i, 380 - 8 * i).resize((512, 512)) for i in range(args.images)
        ]
        portraits[0].save(model / "reference.png")
        generation = replace(first, portraits=[Portrait(image, i, None, None) for i, image in enumerate(portraits)])
        rank(generation, analyzer)  # warm-up
        ranking = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            ranked = rank(generation, analyzer)
            ranking.append((time.perf_counter() - started) / args.images)

    plain_s, ours_s, rank_s = (
        statistics.median(times["plain"]),
        statistics.median(times["ours"]),
        statistics.median(ranking),
    )
    rows = [
        ("plain diffusers + LoRA", plain_s, 1.0),
        ("ours (render)", ours_s, ours_s / plain_s),
        ("ranking, per 512 px image", rank_s, rank_s / plain_s),
    ]
    print(
        f"{args.images} images, {args.steps} steps, {args.resolution} px, tiny model, {args.threads} threads, "
        f"median of {args.repeats}"
    )
    print(f"{'arm':<28}{'s/image':>10}{'ratio':>8}")
    for name, seconds, ratio in rows:
        print(f"{name:<28}{seconds:>10.4f}{ratio:>8.3f}")
    print(
        f"largest pixel difference between the arms' images: {same}; ranking scores: "
        f"{[round(p.score, 3) for p in ranked.portraits]}"
    )
    Path(args.out).write_text(
        json.dumps(
            {
                "images": args.images,
                "steps": args.steps,
                "resolution": args.resolution,
                "threads": args.threads,
                "repeats": args.repeats,
                "seconds_per_image": {"plain": times["plain"], "ours": times["ours"], "ranking": ranking},
                "median": {"plain": plain_s, "ours": ours_s, "ranking": rank_s},
                "ratio_ours_to_plain": ours_s / plain_s,
                "max_pixel_difference": same,
            },
            indent=2,
        )
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
