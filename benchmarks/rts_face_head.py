"""Train, calibrate and ship the RTS quality head of the dlib face engine (facechain/faces/quality_score.py).

Identities are the real faces that ship in packages: the six people of insightface's t1.jpg, Tom
Hanks' crop and scikit-image's astronaut. Each face yields augmented photos (crop, zoom, small
rotation, flip, brightness x0.75-1.25), embedded by the dlib engine exactly as the app does
(detection included). The head is the RTS variance head with ArcFace identity logits over the frozen
embeddings (facechain.lab.rts), trained on identity labels only: nothing in training says what a bad
photo is. RTS learns "uncertain" from what is hard to classify, so in the shipped variant half of
the training photos are degraded (blur, darkness, noise or low resolution, at a random severity in
[0, 1]) as real face collections are; a second variant trains on clean augmentations only.

Calibration: fresh photos of the training identities, sharp and strongly degraded (severity 0.6-1),
set the sign of the expected temperature and the mapping to (0, 1). Held-out evaluation, leave one
identity out: for each identity in turn, heads trained and calibrated without it score its sharp
photos against its degraded ones, and against 100 real 25-px faces of other people (scikit-image's
LFW subset). Compared with an ArcFace head trained without RTS (max-softmax over the training
identities) and with the Laplacian sharpness the curation already measures. The shipped head is
then trained and calibrated on all identities. Training and evaluation degradations are of the same
four kinds (training severities 0-1, evaluation 0.6-1): "held out" means an unseen person and unseen
photos, not an unseen kind of degradation. Choices made on the calibration photos only (mean over
the folds): ArcFace margin 0.5 over 0.2, epochs per variant, an ensemble of 5 heads over one
(0.77 vs 0.70), degraded training photos over clean ones (0.77 vs 0.60).

    python benchmarks/rts_face_head.py [--out facechain/faces/rts_quality.safetensors]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageEnhance, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from facechain.examples import astronaut, framed  # noqa: E402
from facechain.faces import load_analyzer  # noqa: E402
from facechain.faces.quality import canonical_face, sharpness  # noqa: E402
from facechain.faces.quality_score import HEAD_FILE, QualityHead, calibrated_mapping  # noqa: E402
from facechain.lab.harness.metrics import auroc  # noqa: E402
from facechain.lab.rts import (  # noqa: E402
    ARCFACE_MARGIN,
    ARCFACE_SCALE,
    DOF,
    KL_SCALE,
    VarianceHead,
    arcface_logits,
    calibrate_sign,
    rts_loss,
)
from tests.conftest import insightface_image  # noqa: E402

PHOTO_PX = 256
CLEAN_TRAIN, CLEAN_CALIBRATION, DEGRADED_TRIES = 40, 12, 12  # photos per identity; degraded: per kind
STRONG = 0.6  # calibration and evaluation use severities from here to 1
KINDS = ("blur", "dark", "noise", "low-res")
LFW = "LFW 25 px"
VARIANTS = {"RTS quality": ("train-varied", 150), "RTS quality, clean training": ("train", 50)}
"""score name -> (training photos, epochs); epochs chosen on the calibration photos (50 / 150 tried)."""
ENSEMBLE, LEARNING_RATE, BATCH = 5, 1e-2, 64


@dataclass
class Samples:
    """Every embedded photo: identity, kind ("clean", a degradation, or LFW), role ("train",
    "train-varied", "calibration" or "evaluation"), unit embedding and Laplacian sharpness."""

    identity: np.ndarray
    kind: np.ndarray
    role: np.ndarray
    embedding: np.ndarray
    sharpness: np.ndarray

    def where(self, **conditions) -> np.ndarray:
        mask = np.ones(len(self.identity), dtype=bool)
        for field, value in conditions.items():
            column = getattr(self, field)
            mask &= np.isin(column, value) if isinstance(value, (list, tuple)) else column == value
        return mask

    @property
    def identities(self) -> list[str]:
        """The identities that can be trained on (the LFW faces cannot)."""
        return sorted(set(self.identity[self.where(role="train")]))


def identity_faces(analyzer) -> dict[str, tuple[Image.Image, tuple[float, float, float]]]:
    """name -> (photo, (face centre x, centre y, face side)) for each real face."""
    group = insightface_image("t1.jpg")
    hanks = framed(
        insightface_image("Tom_Hanks_54745.png").resize((336, 336), Image.Resampling.BICUBIC), -60, -40, 396, 416
    )
    photos = {f"t1 person {i}": (group, face) for i, face in enumerate(analyzer.detect(np.asarray(group)))}
    for name, image in (("Tom Hanks", hanks), ("astronaut", astronaut())):
        photos[name] = (image, analyzer.detect(np.asarray(image))[0])
    return {
        name: (image, ((f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2, f.width))
        for name, (image, f) in photos.items()
    }


def augmented(image: Image.Image, face: tuple[float, float, float], rng: np.random.Generator) -> Image.Image:
    """A new photo of the face: 2-3x its side in context, shifted by up to 10%, turned up to 10
    degrees, mirrored half the time, brightness x0.75-1.25."""
    cx, cy, side = face
    cx, cy = cx + rng.uniform(-0.1, 0.1) * side, cy + rng.uniform(-0.1, 0.1) * side
    half = side * rng.uniform(2.0, 3.0) / 2
    turned = image.rotate(
        rng.uniform(-10, 10), center=(cx, cy), resample=Image.Resampling.BICUBIC, fillcolor=(255, 255, 255)
    )
    photo = turned.crop((round(cx - half), round(cy - half), round(cx + half), round(cy + half)))
    photo = photo.resize((PHOTO_PX, PHOTO_PX), Image.Resampling.BICUBIC)
    if rng.random() < 0.5:
        photo = photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return ImageEnhance.Brightness(photo).enhance(rng.uniform(0.75, 1.25))


def degraded(photo: Image.Image, kind: str, severity: float, rng: np.random.Generator) -> Image.Image:
    """``photo`` degraded by ``kind`` at ``severity`` in [0, 1], sized for the ~85-130 px faces of
    ``augmented`` photos: at 1, blur sigma 5 px, brightness x0.08 (gamma 1.5), noise sd 60, the face
    shrunk to ~14% (12-18 px) and enlarged back."""
    pixels = np.asarray(photo, dtype=np.float64)
    if kind == "blur":
        return photo.filter(ImageFilter.GaussianBlur(5.0 * severity))
    if kind == "dark":
        dimmed = 255 * (pixels / 255) ** (1 + 0.5 * severity) * 0.08**severity
        return Image.fromarray(dimmed.astype(np.uint8))
    if kind == "noise":
        return Image.fromarray(np.clip(pixels + rng.normal(0, 60.0 * severity, pixels.shape), 0, 255).astype(np.uint8))
    small = max(1, round(PHOTO_PX * 0.14**severity))
    return photo.resize((small, small), Image.Resampling.BOX).resize(photo.size, Image.Resampling.BICUBIC)


def central_face(analyzer, photo: Image.Image):
    """The detected face nearest the photo's centre (crops of t1.jpg may show a neighbour's edge)."""
    faces = analyzer.detect(np.asarray(photo))
    centre = np.array(photo.size) / 2
    return min(
        faces,
        key=lambda f: np.hypot((f.box[0] + f.box[2]) / 2 - centre[0], (f.box[1] + f.box[3]) / 2 - centre[1]),
        default=None,
    )


def photos(faces: dict, seed: int) -> list[tuple[str, str, str, Image.Image]]:
    """(identity, kind, role, photo) for every photo to embed: per identity CLEAN_TRAIN clean
    augmentations ("train"), CLEAN_TRAIN more of which half are degraded at a random severity
    ("train-varied"), and fresh photos for calibration, sharp and strongly degraded."""
    rng = np.random.default_rng(seed)
    rows = []
    for name, (image, face) in faces.items():
        for index in range(CLEAN_TRAIN + CLEAN_CALIBRATION):
            rows.append((name, "clean", "train" if index < CLEAN_TRAIN else "calibration", augmented(image, face, rng)))
        for _ in range(CLEAN_TRAIN):
            kind = str(rng.choice(("clean",) + KINDS, p=[0.5] + [0.5 / len(KINDS)] * len(KINDS)))
            photo = augmented(image, face, rng)
            rows.append(
                (name, kind, "train-varied", photo if kind == "clean" else degraded(photo, kind, rng.uniform(), rng))
            )
        rows += [
            (name, kind, "calibration", degraded(augmented(image, face, rng), kind, rng.uniform(STRONG, 1), rng))
            for kind in KINDS
            for _ in range(DEGRADED_TRIES)
        ]
    return rows


def lfw_photos() -> list[tuple[str, str, str, Image.Image]]:
    """The 100 faces of scikit-image's LFW subset (25x25 grey crops of different people), enlarged to
    150 px on a grey canvas as a phone would show them: real low-resolution faces."""
    from skimage import data

    rows = []
    for crop in data.lfw_subset()[:100]:  # the first 100 are faces, the rest background
        face = (
            Image.fromarray((crop * 255).astype(np.uint8)).convert("RGB").resize((150, 150), Image.Resampling.BICUBIC)
        )
        canvas = Image.new("RGB", (300, 300), (128, 128, 128))
        canvas.paste(face, (75, 75))
        rows.append(("LFW", LFW, "evaluation", canvas))
    return rows


def collect(analyzer, rows: list) -> tuple[Samples, dict[str, float]]:
    """Embed every photo as the app would; returns the samples and, per kind, the share of strongly
    degraded photos in which the engine still found the face (the others cannot be scored in the app)."""
    kept, found = [], {kind: [] for kind in KINDS}
    for name, kind, role, photo in rows:
        detected = central_face(analyzer, photo)
        if kind in KINDS and role == "calibration":
            found[kind].append(detected is not None)
        if detected is not None:
            kept.append((name, kind, role, detected.embedding, sharpness(canonical_face(photo, detected.landmarks))))
    columns = list(zip(*kept))
    samples = Samples(*(np.array(c) for c in columns[:3]), np.stack(columns[3]), np.array(columns[4]))
    return samples, {kind: float(np.mean(v)) for kind, v in found.items()}


class IdentityHead(torch.nn.Module):
    """ArcFace prototypes over the frozen embeddings, with an RTS variance head beside them."""

    def __init__(self, classes: int, dim: int):
        super().__init__()
        self.prototypes = torch.nn.Parameter(0.01 * torch.randn(classes, dim))
        self.variance = VarianceHead(dim, DOF)


def train(embeddings: np.ndarray, labels: np.ndarray, epochs: int, with_rts: bool, seed: int) -> IdentityHead:
    """Mini-batch Adam on the ArcFace loss, with RTS's random temperature and prior when ``with_rts``."""
    torch.manual_seed(seed)
    x, y = torch.as_tensor(embeddings, dtype=torch.float32), torch.as_tensor(labels)
    model = IdentityHead(int(labels.max()) + 1, x.shape[1])
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        for batch in torch.randperm(len(x), generator=generator).split(BATCH):
            if len(batch) < 2:  # batch norm needs two samples
                continue
            logits = arcface_logits(x[batch], model.prototypes, y[batch])
            loss = (
                rts_loss(logits, y[batch], model.variance(x[batch]), generator=generator)
                if with_rts
                else torch.nn.functional.cross_entropy(logits, y[batch])
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


def folded(head: VarianceHead) -> tuple[np.ndarray, np.ndarray]:
    """The eval-mode Linear + BatchNorm as one affine map: log v = weight @ e + bias."""
    norm = head.norm
    gain = (norm.weight / (norm.running_var + norm.eps).sqrt()).detach()
    weight = gain[:, None] * head.linear.weight.detach()
    bias = gain * (head.linear.bias.detach() - norm.running_mean) + norm.bias.detach()
    return weight.numpy(), bias.numpy()


def quality_head(samples: Samples, names: list[str], role: str, epochs: int) -> QualityHead:
    """An ENSEMBLE of RTS heads trained on ``names``' ``role`` photos, folded, with the sign and the
    (0, 1) mapping calibrated on the same identities' calibration photos."""
    training = samples.where(identity=names, role=role)
    labels = np.array([names.index(n) for n in samples.identity[training]])
    heads = [
        folded(train(samples.embedding[training], labels, epochs, True, seed).variance) for seed in range(ENSEMBLE)
    ]
    raw = QualityHead(np.stack([w for w, _ in heads]), np.stack([b for _, b in heads]), 1, 0.0, 1.0, "dlib")
    calibration = samples.where(identity=names, role="calibration")
    sharp = raw.log_temperature(samples.embedding[calibration & samples.where(kind="clean")])
    degraded_ones = raw.log_temperature(samples.embedding[calibration & samples.where(kind=list(KINDS))])
    sign = calibrate_sign(sharp, degraded_ones)
    center, width = calibrated_mapping(sign * sharp, sign * degraded_ones)
    return QualityHead(raw.weight, raw.bias, sign, center, width, "dlib")


def max_softmax(model: IdentityHead, embeddings: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        logits = arcface_logits(torch.as_tensor(embeddings, dtype=torch.float32), model.prototypes, scale=ARCFACE_SCALE)
    return logits.softmax(dim=1).max(dim=1).values.numpy()


def held_out_auroc(samples: Samples, held_out: str) -> dict[str, dict[str, float]]:
    """Score -> AUROC of ``held_out``'s sharp photos against each kind of its degraded ones ("all":
    all of them) and against the LFW faces, every learned score trained and calibrated without it."""
    names = [n for n in samples.identities if n != held_out]
    role, epochs = VARIANTS["RTS quality"]
    training = samples.where(identity=names, role=role)
    plain = train(
        samples.embedding[training], np.array([names.index(n) for n in samples.identity[training]]), epochs, False, 0
    )
    scores = {
        name: quality_head(samples, names, *setting).quality(samples.embedding) for name, setting in VARIANTS.items()
    }
    scores |= {"ArcFace max-softmax": max_softmax(plain, samples.embedding), "Laplacian sharpness": samples.sharpness}
    sharp = samples.where(identity=held_out, kind="clean")
    negatives = {kind: samples.where(identity=held_out, role="calibration", kind=kind) for kind in KINDS}
    negatives |= {
        "all": samples.where(identity=held_out, role="calibration", kind=list(KINDS)),
        LFW: samples.where(kind=LFW),
    }
    return {
        score: {kind: auroc(values[sharp], values[mask]) for kind, mask in negatives.items() if mask.any()}
        for score, values in scores.items()
    }


def table(title: str, rows: dict[str, dict[str, float]]) -> str:
    columns = ["all", *KINDS, LFW]
    lines = [title, f"{'score':<29}" + "".join(f"{c:>10}" for c in columns)]
    for score, values in rows.items():
        lines.append(f"{score:<29}" + "".join(f"{values[c]:>10.3f}" if c in values else f"{'-':>10}" for c in columns))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HEAD_FILE)
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.time()
    analyzer = load_analyzer("dlib")
    samples, found = collect(analyzer, photos(identity_faces(analyzer), seed=0) + lfw_photos())
    print(
        f"embedded {len(samples.identity)} photos in {time.time() - started:.0f} s; strongly degraded faces the "
        "engine still found: " + ", ".join(f"{k} {v:.0%}" for k, v in found.items())
    )

    folds = {name: held_out_auroc(samples, name) for name in samples.identities}
    for name, rows in folds.items():
        print(f"  held out {name:<12} " + "  ".join(f"{score} {values['all']:.2f}" for score, values in rows.items()))
    scores = list(next(iter(folds.values())))
    mean = {
        score: {
            kind: float(np.mean([f[score][kind] for f in folds.values() if kind in f[score]]))
            for kind in ["all", *KINDS, LFW]
        }
        for score in scores
    }
    spread = {score: float(np.std([f[score]["all"] for f in folds.values()], ddof=1)) for score in scores}
    print(
        table(
            f"\nheld-out AUROC, sharp vs degraded photos of an identity left out of training and calibration "
            f"(mean over {len(folds)} identities)",
            mean,
        )
    )
    print("sd over identities of 'all': " + ", ".join(f"{score} {sd:.3f}" for score, sd in spread.items()))

    role, epochs = VARIANTS["RTS quality"]
    head = quality_head(samples, samples.identities, role, epochs)
    clean = head.quality(samples.embedding[samples.where(role="calibration", kind="clean")])
    print(
        f"\nshipped head (all {len(samples.identities)} identities): sign {head.sign:+d} (+1: a higher expected "
        f"temperature is a better face); median quality of calibration photos: sharp {np.median(clean):.2f}, "
        + ", ".join(
            f"{k} {np.median(head.quality(samples.embedding[samples.where(role='calibration', kind=k)])):.2f}"
            for k in KINDS
        )
    )
    head.save(
        args.out,
        {
            "method": "RTS variance heads (Shang et al., AAAI 2023) on frozen dlib embeddings with "
            "ArcFace identity logits, "
            f"an ensemble of {ENSEMBLE} (log-temperatures averaged)",
            "score": "quality = 1 / (1 + exp(-(sign * mean_heads log(sum_j exp(weight @ e + bias)_j "
            "/ (dof - 2)) - center) "
            "/ width))",
            "training": {
                "identities": samples.identities,
                "photos_per_identity": CLEAN_TRAIN,
                "degraded_share": 0.5,
                "severity": [0.0, 1.0],
                "epochs": epochs,
                "learning_rate": LEARNING_RATE,
                "kl_scale": KL_SCALE,
                "arcface_scale": ARCFACE_SCALE,
                "arcface_margin": ARCFACE_MARGIN,
            },
            "calibration": {
                "sharp": "fresh augmented photos of the training identities",
                "degraded": list(KINDS),
                "severity": [STRONG, 1.0],
                "median_sharp_quality": 0.9,
                "median_degraded_quality": 0.1,
            },
            "held_out_auroc": {
                "protocol": "leave one identity out: heads trained and calibrated without it",
                "mean": mean["RTS quality"],
                "sd_all": spread["RTS quality"],
                "per_identity": {name: rows["RTS quality"]["all"] for name, rows in folds.items()},
            },
        },
    )
    print(
        f"wrote {args.out} ({args.out.stat().st_size} bytes) and {args.out.with_suffix('.json').name} "
        f"in {time.time() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
