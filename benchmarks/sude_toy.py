"""SuDe in a toy world: pretrain a tiny text-to-image diffusion model on the digit world
(facechain/lab/digit_world.py), for personalizing "sks digit seven" with and without SuDe.

    python benchmarks/sude_toy.py pretrain [--steps 3000] [--out benchmarks/results/digit_world_model]
    python benchmarks/sude_toy.py check      # judge accuracy and attribute measures on samples, grid
    python benchmarks/sude_toy.py personalize [--seeds 5 --steps 800 --sude-weights 0 0.4 0.8]

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

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).parent)]
from toy_diffusion import build_model, load_model, sample, tile, token_ids  # noqa: E402

from facechain.lab.digit_world import base_digits, caption, category_classifier, with_attributes  # noqa: E402


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


def pretrain(args) -> None:
    torch.set_num_threads(args.threads)
    images, labels = base_digits()
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(images))
    train_index, test_index = order[: int(0.8 * len(order))], order[int(0.8 * len(order)) :]
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
        prediction = unet(
            scheduler.add_noise(pixels, noise, t),
            t,
            encoder_hidden_states=text_encoder(token_ids(tokenizer, captions))[0],
        ).sample
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
    (out / "pretraining.json").write_text(
        json.dumps(
            {
                "steps": args.steps,
                "batch": args.batch,
                "lr": args.lr,
                "seed": args.seed,
                "log": log,
                "judge_accuracy_on_samples": accuracy,
                "judge_accuracy_held_out": held_out,
                "train_indices": train_index.tolist(),
            },
            indent=2,
        )
    )
    print(f"wrote {out}")


def pretraining_split(folder: Path):
    """(images, labels, the pretraining indices, the judge trained on them) for a pretrained model."""
    train_index = json.loads((folder / "pretraining.json").read_text())["train_indices"]
    images, labels = base_digits()
    return images, labels, train_index, category_classifier(images[train_index], labels[train_index])


def check(args) -> None:
    """How well the pretrained model obeys category and attribute words: judge accuracy and the pixel
    measure of each attribute on generated samples, and a grid (rows: attributes, columns: digits)."""
    from facechain.lab.digit_world import inversion, slant, stroke_mass
    from facechain.plots import image_grid

    torch.set_num_threads(args.threads)
    folder = Path(args.model)
    model = load_model(folder)
    judge = pretraining_split(folder)[3]
    rows, tiles = [], []
    for attributes in [(), ("thick",), ("thin",), ("slanted",), ("inverted",)]:
        prompts = [caption(label, attributes) for label in range(10) for _ in range(args.per_digit)]
        generated = sample(*model, prompts, seed=args.seed, guidance=args.guidance)
        accuracy = float((judge.probabilities(generated).argmax(1) == np.repeat(np.arange(10), args.per_digit)).mean())
        rows.append(
            {
                "attributes": list(attributes),
                "judge_accuracy": accuracy,
                "stroke_mass": float(np.mean([stroke_mass(g) for g in generated])),
                "slant": float(np.mean([slant(g) for g in generated])),
                "inversion": float(np.mean([inversion(g) for g in generated])),
            }
        )
        tiles += [tile(generated[i * args.per_digit]) for i in range(10)]
    print(f"{'prompt attributes':<20}{'judge acc':>10}{'stroke mass':>12}{'slant':>8}{'border':>8}")
    for row in rows:
        print(
            f"{' '.join(row['attributes']) or 'none':<20}{row['judge_accuracy']:>10.2f}{row['stroke_mass']:>12.3f}"
            f"{row['slant']:>8.3f}{row['inversion']:>8.2f}"
        )
    image_grid(tiles, columns=10).save(folder / "samples.png")
    (folder / "check.json").write_text(json.dumps(rows, indent=2))
    print(f"wrote {folder / 'samples.png'} and {folder / 'check.json'}")


def personalize_command(args) -> None:
    """With and without SuDe, at equal steps and seeds: personalize on the distinctive held-out subject,
    evaluate, print the table over seeds, write JSON and a figure of sample grids."""
    from toy_personalization import Personalization, evaluate, personalize, summary

    from facechain.lab.digit_world import distinctive_subject, subject_views
    from facechain.plots import image_grid

    torch.set_num_threads(args.threads)
    folder = Path(args.model)
    images, labels, train_index, judge = pretraining_split(folder)
    held_out = np.setdiff1d(np.arange(len(images)), train_index)
    subject_index = int(held_out[distinctive_subject(images[held_out], labels[held_out], args.label, judge)])
    subject = images[subject_index]
    views = subject_views(subject)
    before_rows, before_images = evaluate(
        load_model(folder), subject, args.label, judge, args.samples, seed=1000, subject_token=None
    )
    runs, figure_rows = (
        [],
        [
            [tile(view) for view in views] + [tile(np.zeros_like(subject))] * (3 * 5 - len(views)),
            [tile(image) for name in before_images for image in before_images[name][:3]],
        ],
    )
    for seed in range(args.seeds):
        for weight in args.sude_weights:
            run = Personalization(
                sude_weight=weight, steps=args.steps, rank=args.rank, learning_rate=args.lr, seed=seed
            )
            started = time.perf_counter()
            model = personalize(folder, views, args.label, run)
            seconds = time.perf_counter() - started
            rows, generated = evaluate(model, subject, args.label, judge, args.samples, seed=1000 + seed)
            masks = [record["sude_mask"] for record in run.log if "sude_mask" in record]
            runs.append(
                {
                    "seed": seed,
                    "sude_weight": weight,
                    "seconds_per_step": seconds / args.steps,
                    "sude_mask_rate": float(np.mean(masks)) if masks else None,
                    **summary(rows),
                    "rows": rows,
                }
            )
            print(json.dumps({k: v for k, v in runs[-1].items() if k != "rows"}), flush=True)
            if seed == 0:
                figure_rows.append([tile(image) for name in generated for image in generated[name][:3]])

    metrics = ("category_kept", "attribute_obeyed", "fidelity_plain", "fidelity_attributes", "seconds_per_step")
    table = {
        weight: {
            metric: (float(np.mean(values)), float(np.std(values)))
            for metric in metrics
            for values in [[run[metric] for run in runs if run["sude_weight"] == weight]]
        }
        for weight in args.sude_weights
    }
    print(f"\n{'':<22}" + "".join(f"{metric:>22}" for metric in metrics))
    print(f"{'before (a digit seven)':<22}" + "".join(f"{summary(before_rows)[m]:>22.3f}" for m in metrics[:4]))
    for weight, row in table.items():
        print(
            f"{'SuDe ' + str(weight) if weight else 'DreamBooth (no SuDe)':<22}"
            + "".join(f"{row[m][0]:>14.3f} ± {row[m][1]:.3f}" for m in metrics)
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "subject_index": subject_index,
                "label": args.label,
                "steps": args.steps,
                "rank": args.rank,
                "lr": args.lr,
                "seeds": args.seeds,
                "samples_per_prompt": args.samples,
                "before": {**summary(before_rows), "rows": before_rows},
                "table": {str(weight): row for weight, row in table.items()},
                "runs": runs,
            },
            indent=2,
        )
    )
    image_grid([image for row in figure_rows for image in row], columns=15).save(args.figure)
    print(f"wrote {out} and {args.figure}")


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
    per = commands.add_parser(
        "personalize", help="personalize on one distinctive seven with and without SuDe; table and figure"
    )
    per.add_argument("--model", default=str(Path(__file__).parent / "results" / "digit_world_model"))
    per.add_argument("--label", type=int, default=7, help="the subject's category (7: 'a sks digit seven')")
    per.add_argument("--sude-weights", type=float, nargs="+", default=[0.0, 0.4, 0.8], help="0 is plain DreamBooth")
    per.add_argument("--seeds", type=int, default=5)
    per.add_argument("--steps", type=int, default=800)
    per.add_argument("--rank", type=int, default=4)
    per.add_argument("--lr", type=float, default=1e-3)
    per.add_argument("--samples", type=int, default=32, help="generations per prompt")
    per.add_argument("--threads", type=int, default=2)
    per.add_argument("--out", default=str(Path(__file__).parent / "results" / "sude_toy.json"))
    per.add_argument(
        "--figure", default=str(Path(__file__).resolve().parents[1] / "docs" / "images" / "sude_toy_grid.png")
    )
    per.set_defaults(run=personalize_command)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
