"""Personalize the pretrained toy model on one distinctive seven ("a sks digit seven"), with and
without SuDe, and measure the three things the SuDe paper (Qiao et al., CVPR 2024, arXiv:2403.06775)
is about:

- category kept: the share of generations the digit judge still calls a seven;
- attribute obeyed: for "a thick / thin / slanted / inverted sks digit seven", the share of
  generations whose pixel measure moved, against the plain prompt's generation from the same noise,
  by at least half of what the attribute does to the subject's drawing (``digit_world.obeys_attribute``);
- subject fidelity: cosine similarity of ink features to the subject drawn with the prompt's
  attributes (plain prompt: to the subject itself), 1 being the subject's own drawing.

Training is DreamBooth-style LoRA on the UNet attention projections (text encoder frozen), the
subject's few views each step; SuDe adds ``sude_weight * sude_loss`` from the ``sude`` package with
the category prompt "a digit seven" and the empty prompt. Runs with and without SuDe share the seed
(LoRA initialisation, noise, timesteps), so the only difference is the SuDe term.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from toy_diffusion import load_model, sample, token_ids

from facechain.lab.digit_world import caption, obeys_attribute, similarity, with_attributes
from sude import category_and_empty_predictions, sude_loss

SUBJECT_TOKEN = "sks"
ATTRIBUTE_PROMPTS = ((), ("thick",), ("thin",), ("slanted",), ("inverted",))


@dataclass
class Personalization:
    """One personalization run: LoRA rank, steps, learning rate, SuDe weight (0: plain DreamBooth)."""

    sude_weight: float = 0.0
    steps: int = 400
    rank: int = 4
    learning_rate: float = 1e-3
    seed: int = 0
    log: list = field(default_factory=list)


def personalize(model_folder, views: np.ndarray, label: int, run: Personalization):
    """The toy model with a LoRA trained on ``views`` of the subject as "a sks digit <label>"."""
    from peft import LoraConfig

    tokenizer, text_encoder, unet, scheduler = load_model(model_folder)
    text_encoder.requires_grad_(False)
    unet.requires_grad_(False)
    torch.manual_seed(run.seed)
    unet.add_adapter(
        LoraConfig(
            r=run.rank,
            lora_alpha=run.rank,
            init_lora_weights="gaussian",
            target_modules=["to_q", "to_k", "to_v", "to_out.0"],
        )
    )
    trainable = [p for p in unet.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=run.learning_rate)
    with torch.no_grad():
        subject_states, category_states, empty_states = text_encoder(
            token_ids(tokenizer, [caption(label, subject=SUBJECT_TOKEN), caption(label), ""])
        )[0].split(1)
    pixels = torch.from_numpy(views[:, None] * 2.0 - 1.0)
    count = len(pixels)
    generator = torch.Generator().manual_seed(run.seed)
    for step in range(1, run.steps + 1):
        noise = torch.randn(pixels.shape, generator=generator)
        timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (count,), generator=generator)
        noisy = scheduler.add_noise(pixels, noise, timesteps)
        prediction = unet(noisy, timesteps, encoder_hidden_states=subject_states.expand(count, -1, -1)).sample
        loss = F.mse_loss(prediction, noise)
        record = {"step": step, "loss": float(loss.detach())}
        if run.sude_weight:
            category, empty = category_and_empty_predictions(unet, noisy, timesteps, category_states, empty_states)
            regularizer = sude_loss(noisy, timesteps, scheduler, prediction, category, empty)
            loss = loss + run.sude_weight * regularizer.loss.mean()
            record["sude_mask"] = float(regularizer.mask.mean())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        run.log.append(record)
    unet.eval()
    return tokenizer, text_encoder, unet, scheduler


def evaluate(
    model, subject: np.ndarray, label: int, judge, samples: int, seed: int, subject_token: str | None = SUBJECT_TOKEN
):
    """Per attribute prompt: judge accuracy, share showing the attribute, fidelity to the subject drawn
    with the attributes; and the generations (for figures). ``subject_token=None`` prompts the bare
    category ("a thick digit seven"), the before-personalization baseline."""
    rows, generations = [], {}
    for attributes in ATTRIBUTE_PROMPTS:  # plain first: the attribute prompts are compared with it
        generated = sample(*model, [caption(label, attributes, subject=subject_token)] * samples, seed=seed)
        plain = generations.get("plain", generated)
        target = with_attributes(subject, attributes)
        rows.append(
            {
                "attributes": list(attributes),
                "category_kept": float((judge.probabilities(generated).argmax(1) == label).mean()),
                "attribute_obeyed": (
                    float(
                        np.mean(
                            [
                                all(obeys_attribute(g, p, a, subject) for a in attributes)
                                for g, p in zip(generated, plain)
                            ]
                        )
                    )
                    if attributes
                    else None
                ),
                "fidelity": float(np.mean([similarity(g, target) for g in generated])),
            }
        )
        generations[" ".join(attributes) or "plain"] = generated
    return rows, generations


def summary(rows: list[dict]) -> dict:
    """One line per run: category kept over all prompts, attribute obeyed over the attribute prompts,
    fidelity on the plain prompt and over the attribute prompts."""
    with_attributes_rows = [row for row in rows if row["attributes"]]
    return {
        "category_kept": float(np.mean([row["category_kept"] for row in rows])),
        "attribute_obeyed": float(np.mean([row["attribute_obeyed"] for row in with_attributes_rows])),
        "fidelity_plain": next(row["fidelity"] for row in rows if not row["attributes"]),
        "fidelity_attributes": float(np.mean([row["fidelity"] for row in with_attributes_rows])),
    }
