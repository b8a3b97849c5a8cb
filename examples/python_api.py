"""The Python API end to end, offline: example photos -> curated dataset -> tiny LoRA -> ranked
portraits. Every step is the same call a real run makes; only ``tiny=True`` picks the tiny demo
model (random weights: it shows the workflow, not image quality), so the portraits are noise and the
ranking flags them all ("no face found").

    python examples/python_api.py [--out runs/api-example]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from facechain import quiet
from facechain.examples import write_example_photos
from facechain.portrait import GenerationRequest, TrainConfig, generate, prepare, train, write_generation
from facechain.portrait.model_folder import finished_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/api-example"))
    out = parser.parse_args().out
    quiet.install()  # optional: drop the known-harmless library messages, as the CLI and the app do

    photos = write_example_photos(out / "photos")
    dataset = prepare(photos, out / "dataset", overwrite=True)
    print(f"kept {len(dataset.kept)} of {len(dataset.photos)} photos, caption '{dataset.caption}'")

    model = out / "model"
    if finished_run(model):  # a second run of this example reuses the model (resuming a finished run is refused)
        print(f"LoRA: {model} (trained by an earlier run)")
    else:
        trained = train(
            TrainConfig(
                dataset=out / "dataset",
                out=model,
                tiny=True,
                steps=20,
                validation_images=0,
                resume=(model / "checkpoints").is_dir(),
            )
        )
        print(f"LoRA: {trained.lora_file}")

    result = generate(GenerationRequest(model=model, style="headshot", count=2, seed=1, steps=10))
    for portrait in result.portraits:
        print(f"seed {portrait.seed}: score {portrait.score}, {portrait.flag or 'passed'}")
    print(f"written: {write_generation(result, out / 'portraits')}")


if __name__ == "__main__":
    main()
