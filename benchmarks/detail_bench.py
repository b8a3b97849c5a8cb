"""Cost of the face detail pass per face, and its peak memory, against generating the image itself.

Both arms run in one process on a full-size Stable Diffusion 1.5 architecture (UNet 859.5M, VAE 83.7M,
CLIP text encoder 123.1M parameters, from the published configs in facechain/diffusion/architectures.py)
with random weights: time and memory do not depend on weight values, and no weights can be downloaded
here. Same prompt, negative prompt, solver (DPM-Solver++), steps and guidance in both arms:

- generate: text-to-image of one image at the model's native side;
- detail:   one face of that image through ``FaceDetailer.refine_face`` (crop, image-to-image at the native
            side at the default strength, colour match, feathered paste), on the same loaded modules.

Peak memory is the process's peak resident set (``ru_maxrss``) after the generation, then after the
pass: the pass adds no weights (``from_pipe``), so the difference is activations only. A second pipeline
loaded for the pass, as tools without ``from_pipe`` do, would add the weights' bytes, printed for scale.

    python benchmarks/detail_bench.py [--resolution 512] [--steps 30] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facechain.diffusion.architectures import CLIP_L_TEXT, SD15_UNET, SD15_VAE  # noqa: E402
from facechain.faces import Face  # noqa: E402
from facechain.portrait.generation.detail import DetailSettings, FaceDetailer  # noqa: E402
from facechain.portrait.generation.request import DETAIL_STRENGTH  # noqa: E402


def full_size_pipeline():
    """SD 1.5's architecture with seeded random weights and the real CLIP tokenizer."""
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from facechain.diffusion.tokenizer import clip_tokenizer
    from pipelines import PORTRAIT_SOLVERS, PortraitPipeline

    torch.manual_seed(0)
    tokenizer = clip_tokenizer()
    scheduler = DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1)
    pipe = PortraitPipeline(
        vae=AutoencoderKL(**SD15_VAE),
        text_encoder=CLIPTextModel(CLIPTextConfig(**CLIP_L_TEXT)),
        tokenizer=tokenizer,
        unet=UNet2DConditionModel(**SD15_UNET),
        scheduler=PORTRAIT_SOLVERS["dpm++"].build(scheduler.config),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resolution", type=int, default=512, help="the image side, also the native side")
    parser.add_argument("--steps", type=int, default=30, help="the dpm++ solver's default")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "detail_bench.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pipe = full_size_pipeline()
    pipe.unet.register_to_config(sample_size=args.resolution // pipe.vae_scale_factor)  # native side = resolution
    weights_mb = sum(
        p.numel() * p.element_size() for m in (pipe.unet, pipe.vae, pipe.text_encoder) for p in m.parameters()
    )
    weights_mb /= 2**20
    prompt, negative, guidance = "sks, a woman, natural light portrait", "blurry, deformed", 5.0
    before = peak_mb()
    start = time.perf_counter()
    with torch.no_grad():
        image = pipe(
            prompt,
            negative_prompt=negative,
            height=args.resolution,
            width=args.resolution,
            num_inference_steps=args.steps,
            guidance_scale=guidance,
            generator=torch.Generator().manual_seed(1),
        ).images[0]
    generate_s = time.perf_counter() - start
    after_generate = peak_mb()

    side = args.resolution / 4  # a face a quarter of the image wide, in its middle
    centre = args.resolution / 2
    landmarks = centre + side * np.array([[-0.25, -0.2], [0.25, -0.2], [0.0, 0.05], [-0.2, 0.3], [0.2, 0.3]])
    face = Face((centre - side / 2,) * 2 + (centre + side / 2,) * 2, landmarks, 1.0, np.zeros(128))
    detailer = FaceDetailer(pipe, None, prompt, negative, args.steps, guidance, DetailSettings())
    pixels = np.asarray(image).copy()
    start = time.perf_counter()
    detailer.refine_face(pixels, face, torch.Generator().manual_seed(2), None)
    detail_s = time.perf_counter() - start
    after_detail = peak_mb()

    rows = {
        "resolution": args.resolution,
        "steps": args.steps,
        "detail_strength": DETAIL_STRENGTH,
        "threads": args.threads,
        "generate_s": round(generate_s, 2),
        "detail_per_face_s": round(detail_s, 2),
        "detail_over_generate": round(detail_s / generate_s, 3),
        "peak_mb_before": round(before),
        "peak_mb_generate": round(after_generate),
        "peak_mb_generate_and_detail": round(after_detail),
        "peak_ratio": round(after_detail / after_generate, 4),
        "weights_mb": round(weights_mb),
        "second_pipeline_would_add_mb": round(weights_mb),
    }
    print(
        f"full-size SD 1.5 architecture (random weights), {args.resolution} px, {args.steps} steps, CPU x{args.threads}"
    )
    print(f"{'':<34}{'seconds':>10}{'peak RSS MB':>14}")
    print(f"{'generate one image':<34}{generate_s:>10.1f}{after_generate:>14.0f}")
    print(f"{'+ detail pass, one face':<34}{detail_s:>10.1f}{after_detail:>14.0f}")
    print(f"detail / generate: {detail_s / generate_s:.2f}x (target <= 0.5x)")
    print(f"peak with the pass / without: {after_detail / after_generate:.4f} (target <= 1.05)")
    print(f"a second pipeline for the pass would hold another {weights_mb:.0f} MB of weights")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
