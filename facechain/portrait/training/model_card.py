"""The model card of a trained digital twin: README.md (Hugging Face model-card front matter, the
settings that matter to reuse it, the loss curve and the validation grid) next to the LoRA."""

from __future__ import annotations

from pathlib import Path

from ...plots import line_chart
from ..model_folder import LOSS_CURVE, MODEL_CARD, VALIDATION_GRID


def smoothed(points: list[tuple[float, float]], window: int) -> list[tuple[float, float]]:
    """Trailing mean over ``window`` points: per-step diffusion losses are very noisy."""
    values = [y for _, y in points]
    return [
        (x, sum(values[max(0, i - window + 1) : i + 1]) / len(values[max(0, i - window + 1) : i + 1]))
        for i, (x, _) in enumerate(points)
    ]


def write_model_card(out: Path, info: dict, log: list[dict]) -> Path:
    training = [(e["step"], e["loss"]) for e in log if "loss" in e]
    evaluation = [(e["step"], e["eval_loss"]) for e in log if "eval_loss" in e]
    series = {"training loss (smoothed)": smoothed(training, max(1, len(training) // 10))} if training else {}
    if evaluation:
        series["evaluation loss"] = evaluation
    if series:
        line_chart(series, out / LOSS_CURVE, "loss by step")
    config = info["config"]
    tiny_note = f"\n> **{info['notice']}**\n" if info.get("notice") else ""
    rows = [
        ("base model", info["base_model"]),
        ("trigger", info.get("trigger") or "(from the captions)"),
        ("class prompt (SuDe category)", info.get("class_prompt") or "-"),
        ("steps", info["steps"]),
        ("resolution", info["resolution"]),
        ("LoRA rank / alpha", f"{config['rank']} / {config['alpha'] or config['rank']}"),
        ("text encoder LoRA", config["train_text_encoder"]),
        ("SuDe weight", config["sude_weight"]),
        ("face loss weight", "off" if config["face_loss_weight"] is None else config["face_loss_weight"]),
        ("learning rate / schedule", f"{config['learning_rate']} / {config['lr_scheduler']}"),
        ("batch size x accumulation", f"{config['batch_size']} x {config['gradient_accumulation']}"),
        (
            "prior preservation",
            f"{config['num_class_images']} class images, weight {config['prior_loss_weight']}"
            if config["prior_preservation"]
            else "no",
        ),
        ("seed", config["seed"]),
    ]
    if evaluation:
        rows.append(
            (
                "evaluation loss",
                f"{evaluation[0][1]:.4f} (step {evaluation[0][0]}) -> {evaluation[-1][1]:.4f} (step "
                f"{evaluation[-1][0]})",
            )
        )
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    images = "".join(
        f"\n![{alt}]({name})\n"
        for alt, name in (("loss curve", LOSS_CURVE), ("validation images", VALIDATION_GRID))
        if (out / name).exists()
    )
    card = f"""---
base_model: {info["base_model"]}
library_name: diffusers
tags: [lora, text-to-image, stable-diffusion, facechain, sude]
---
# Digital twin LoRA
{tiny_note}
Trained with FaceChain Studio (`facechain train`). Load it with diffusers:

```python
pipe = StableDiffusionPipeline.from_pretrained("{info["base_model"]}")
pipe.load_lora_weights("{out}")
image = pipe("{info.get("validation_prompt") or "a photo of sks person"}").images[0]
```

| setting | value |
|---|---|
{table}
{images}"""
    path = out / MODEL_CARD
    path.write_text(card, encoding="utf-8")
    return path
