"""SuDe in a toy world: pretrain a tiny text-to-image diffusion model on the digit world
(facechain/lab/digit_world.py), for personalizing "sks digit seven" with and without SuDe.

    python benchmarks/sude_toy.py pretrain [--steps 3000] [--out benchmarks/results/digit_world_model]
    python benchmarks/sude_toy.py check      # judge accuracy and attribute measures on samples, grid

The model is a pixel-space UNet2DConditionModel (16x16, one channel) conditioned by a small CLIP text
encoder trained with it, on captions such as "a thick slanted digit seven" (10% empty captions, for
classifier-free guidance). It is saved in diffusers' layout (unet/, text_encoder/, scheduler/) in half
precision, small enough to ship. The personalization experiment builds on it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from facechain.diffusion.tokenizer import clip_tokenizer  # noqa: E402
from facechain.lab.digit_world import SIDE, base_digits, caption, category_classifier, with_attributes  # noqa: E402

MAX_TOKENS = 12
SUBJECT_INDEX_HOLDOUT = 7  # the personalized subject is a seven kept out of pretraining


def build_model(seed: int = 0):
    from diffusers import DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    tokenizer = clip_tokenizer()
    unet = UNet2DConditionModel(
        sample_size=SIDE, in_channels=1, out_channels=1, layers_per_block=1, block_out_channels=(32, 64),
        # text attends at 8x8 only: attention over all 16x16 positions made a step ~3x slower on the CPU
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32, attention_head_dim=8,
        norm_num_groups=8)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=MAX_TOKENS, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id))
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", clip_sample=True)
    return tokenizer, text_encoder, unet, scheduler


def token_ids(tokenizer, prompts: list[str]) -> torch.Tensor:
    return tokenizer(prompts, padding="max_length", max_length=MAX_TOKENS, truncation=True, return_tensors="pt").input_ids


def random_examples(images, labels, count: int, rng: np.random.Generator):
    """(pixels in [-1, 1] (count, 1, 16, 16), captions) with random attributes; 10% empty captions."""
    pixels, captions = [], []
    for index in rng.integers(0, len(images), count):
        attributes = tuple(a for a, p in (("slanted", 0.3), ("inverted", 0.3)) if rng.random() < p)
        thickness = rng.integers(3)
        attributes += (("thick",), ("thin",), ())[thickness]
        pixels.append(with_attributes(images[index], attributes) * 2.0 - 1.0)
        captions.append("" if rng.random() < 0.1 else caption(int(labels[index]), attributes))
    return torch.from_numpy(np.stack(pixels)[:, None].astype(np.float32)), captions


@torch.no_grad()
def sample(tokenizer, text_encoder, unet, scheduler, prompts: list[str], seed: int, steps: int = 40, guidance: float = 1.0):
    """DDIM samples in [0, 1] with classifier-free guidance."""
    from diffusers import DDIMScheduler

    ddim = DDIMScheduler.from_config(scheduler.config)
    ddim.set_timesteps(steps)
    states = text_encoder(token_ids(tokenizer, prompts + [""] * len(prompts)))[0]
    x = torch.randn((len(prompts), 1, SIDE, SIDE), generator=torch.Generator().manual_seed(seed))
    for t in ddim.timesteps:
        conditional, unconditional = unet(torch.cat([x, x]), t, encoder_hidden_states=states).sample.chunk(2)
        x = ddim.step(unconditional + guidance * (conditional - unconditional), t, x).prev_sample
    return ((x.clamp(-1, 1) + 1) / 2)[:, 0].numpy()


def pretrain(args) -> None:
    torch.set_num_threads(args.threads)
    images, labels = base_digits()
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(images))
    train_index, test_index = order[: int(0.8 * len(order))], order[int(0.8 * len(order)):]
    tokenizer, text_encoder, unet, scheduler = build_model(args.seed)
    parameters = list(unet.parameters()) + list(text_encoder.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=args.lr, weight_decay=0.0)
    lr = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=args.steps, pct_start=0.05)
    generator = torch.Generator().manual_seed(args.seed)
    started, log = time.perf_counter(), []
    for step in range(1, args.steps + 1):
        pixels, captions = random_examples(images[train_index], labels[train_index], args.batch, rng)
        noise = torch.randn(pixels.shape, generator=generator)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (args.batch,), generator=generator)
        prediction = unet(scheduler.add_noise(pixels, noise, t), t,
                          encoder_hidden_states=text_encoder(token_ids(tokenizer, captions))[0]).sample
        loss = F.mse_loss(prediction, noise)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        optimizer.zero_grad()
        lr.step()
        if step % 100 == 0 or step == args.steps:
            log.append({"step": step, "loss": float(loss.detach()), "seconds": round(time.perf_counter() - started, 1)})
            print(json.dumps(log[-1]), flush=True)

    judge = category_classifier(images[train_index], labels[train_index])
    prompts = [caption(label) for label in range(10) for _ in range(8)]
    generated = sample(tokenizer, text_encoder, unet, scheduler, prompts, seed=args.seed)
    accuracy = float((judge.probabilities(generated).argmax(1) == np.repeat(np.arange(10), 8)).mean())
    held_out = float((judge.probabilities(images[test_index]).argmax(1) == labels[test_index]).mean())
    print(f"judge on generated 'a digit <name>': {accuracy:.2f} (judge on held-out real digits: {held_out:.2f})")
    out = Path(args.out)
    unet.to(torch.float16).save_pretrained(out / "unet")
    text_encoder.to(torch.float16).save_pretrained(out / "text_encoder")
    scheduler.save_pretrained(out / "scheduler")
    (out / "pretraining.json").write_text(json.dumps(
        {"steps": args.steps, "batch": args.batch, "lr": args.lr, "seed": args.seed, "log": log,
         "judge_accuracy_on_samples": accuracy, "judge_accuracy_held_out": held_out,
         "train_indices": train_index.tolist()}, indent=2))
    print(f"wrote {out}")


def load_model(folder: Path):
    from diffusers import DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel

    return (clip_tokenizer(), CLIPTextModel.from_pretrained(folder / "text_encoder").float(),
            UNet2DConditionModel.from_pretrained(folder / "unet").float(), DDPMScheduler.from_pretrained(folder / "scheduler"))


def check(args) -> None:
    """How well the pretrained model obeys category and attribute words: judge accuracy and the pixel
    measure of each attribute on generated samples, and a grid (rows: attributes, columns: digits)."""
    from facechain.lab.digit_world import inversion, slant, stroke_mass
    from facechain.plots import image_grid
    from PIL import Image

    torch.set_num_threads(args.threads)
    folder = Path(args.model)
    model = load_model(folder)
    train_index = json.loads((folder / "pretraining.json").read_text())["train_indices"]
    images, labels = base_digits()
    judge = category_classifier(images[train_index], labels[train_index])
    rows, tiles = [], []
    for attributes in [(), ("thick",), ("thin",), ("slanted",), ("inverted",)]:
        prompts = [caption(label, attributes) for label in range(10) for _ in range(args.per_digit)]
        generated = sample(*model, prompts, seed=args.seed, guidance=args.guidance)
        accuracy = float((judge.probabilities(generated).argmax(1) == np.repeat(np.arange(10), args.per_digit)).mean())
        rows.append({"attributes": list(attributes), "judge_accuracy": accuracy,
                     "stroke_mass": float(np.mean([stroke_mass(g) for g in generated])),
                     "slant": float(np.mean([slant(g) for g in generated])),
                     "inversion": float(np.mean([inversion(g) for g in generated]))})
        tiles += [Image.fromarray((generated[i * args.per_digit] * 255).astype(np.uint8)).resize((48, 48), Image.Resampling.NEAREST)
                  for i in range(10)]
    print(f"{'prompt attributes':<20}{'judge acc':>10}{'stroke mass':>12}{'slant':>8}{'border':>8}")
    for row in rows:
        print(f"{' '.join(row['attributes']) or 'none':<20}{row['judge_accuracy']:>10.2f}{row['stroke_mass']:>12.3f}"
              f"{row['slant']:>8.3f}{row['inversion']:>8.2f}")
    image_grid(tiles, columns=10).save(folder / "samples.png")
    (folder / "check.json").write_text(json.dumps(rows, indent=2))
    print(f"wrote {folder / 'samples.png'} and {folder / 'check.json'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    pre = commands.add_parser("pretrain", help="pretrain the toy text-to-image model on the digit world")
    pre.add_argument("--steps", type=int, default=3000)
    pre.add_argument("--batch", type=int, default=64)
    pre.add_argument("--lr", type=float, default=2e-3)
    pre.add_argument("--seed", type=int, default=0)
    pre.add_argument("--threads", type=int, default=2)
    pre.add_argument("--out", default=str(Path(__file__).parent / "results" / "digit_world_model"))
    pre.set_defaults(run=pretrain)
    chk = commands.add_parser("check", help="measure how the pretrained model obeys category and attribute words")
    chk.add_argument("--model", default=str(Path(__file__).parent / "results" / "digit_world_model"))
    chk.add_argument("--per-digit", type=int, default=8)
    chk.add_argument("--seed", type=int, default=1)
    chk.add_argument("--guidance", type=float, default=1.0, help="classifier-free guidance scale (1: none)")
    chk.add_argument("--threads", type=int, default=2)
    chk.set_defaults(run=check)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
