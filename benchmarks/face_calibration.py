"""The measurements behind the dlib backend's thresholds, on real images that ship in packages.

- identity: unit-embedding distances within one person (astronaut augmentations) and between
  people (the six in insightface's t1.jpg, Tom Hanks' crop, the astronaut);
- sharpness: variance of the Laplacian on the canonical face against Gaussian blur sigma, in memory
  and after a JPEG round trip;
- duplicates: whole-photo difference-hash bits and embedding distance of copies and variants.

    python benchmarks/face_calibration.py [--json benchmarks/results/face_calibration.json]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from facechain.examples import astronaut, resaved  # noqa: E402
from facechain.faces import load_analyzer  # noqa: E402
from facechain.faces.quality import canonical_face, difference_hash, sharpness  # noqa: E402
from tests.conftest import insightface_image  # noqa: E402


def jpeg(image: Image.Image, quality: int = 92) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def variants(person: Image.Image) -> dict[str, Image.Image]:
    return {
        "re-saved 80% q70": resaved(person, 0.8, 70),
        "crop 5%": person.crop((20, 20, 492, 492)),
        "crop 22%": person.crop((60, 0, 460, 400)),
        "turned 5 deg": person.rotate(5, expand=True, fillcolor=(255, 255, 255)),
        "turned 15 deg": person.rotate(15, expand=True, fillcolor=(255, 255, 255)),
        "mirrored": person.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "blur 1": person.filter(ImageFilter.GaussianBlur(1)),
        "blur 2": person.filter(ImageFilter.GaussianBlur(2)),
        "brighter 30%": ImageEnhance.Brightness(person).enhance(1.3),
        "enlarged 2x": person.resize((1024, 1024), Image.Resampling.BICUBIC),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "face_calibration.json")
    args = parser.parse_args()
    analyzer = load_analyzer("dlib")
    person = astronaut()
    embed = lambda image: analyzer.detect(np.asarray(image))[0].embedding  # noqa: E731
    whole_hash = lambda image: difference_hash(np.asarray(image.convert("L"), dtype=np.float64))  # noqa: E731

    original = embed(person)
    copies = variants(person)
    same = {name: analyzer.distance(original, embed(image)) for name, image in copies.items()}
    hashes = {name: int(np.count_nonzero(whole_hash(image) != whole_hash(person))) for name, image in copies.items()}
    others = [face.embedding for face in analyzer.detect(np.asarray(insightface_image("t1.jpg")))]
    others.append(embed(insightface_image("Tom_Hanks_54745.png").resize((448, 448), Image.Resampling.BICUBIC)))
    people = [original] + others
    different = [analyzer.distance(a, b) for i, a in enumerate(people) for b in people[i + 1 :]]

    landmarks = analyzer.detect(np.asarray(person))[0].landmarks
    blur = {}
    for sigma in (0, 0.7, 1.0, 1.5, 2.0, 2.5, 3.0):
        blurred = person.filter(ImageFilter.GaussianBlur(sigma)) if sigma else person
        blur[sigma] = {
            "memory": sharpness(canonical_face(blurred, landmarks)),
            "jpeg q92": sharpness(
                canonical_face(jpeg(blurred), analyzer.detect(np.asarray(jpeg(blurred)))[0].landmarks)
            ),
        }

    print(f"identity (dlib, unit embeddings; same-person threshold {analyzer.thresholds.same_person})")
    print(f"  one person, {len(same)} variants: {min(same.values()):.2f} .. {max(same.values()):.2f}")
    print(f"  {len(people)} different people, {len(different)} pairs: {min(different):.2f} .. {max(different):.2f}")
    print(f"\n{'variant of the astronaut':<26}{'embedding dist':>15}{'hash bits':>10}")
    for name in copies:
        print(f"{name:<26}{same[name]:>15.3f}{hashes[name]:>10d}")
    print(f"\n{'blur sigma':>10}{'sharpness':>11}{'after JPEG':>12}   (minimum {analyzer.thresholds.min_sharpness:g})")
    for sigma, row in blur.items():
        print(f"{sigma:>10}{row['memory']:>11.1f}{row['jpeg q92']:>12.1f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "same_person": same,
                "different_people": different,
                "hash_bits": hashes,
                "sharpness_by_blur": blur,
                "thresholds": vars(analyzer.thresholds),
            },
            indent=2,
        )
    )
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
