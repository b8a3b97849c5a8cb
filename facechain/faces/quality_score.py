"""A learned reliability score for a face, from its identity embedding alone: the RTS variance head.

The head (``facechain.lab.rts``; Shang et al., "Improving Training and Inference of Face Recognition
Models via Random Temperature Scaling", AAAI 2023) was trained by ``benchmarks/rts_face_head.py`` on
top of the dlib engine's 128-D embeddings of augmented real faces (half of them degraded at random
severities), to classify identities with a random softmax temperature; no label says what a bad
photo is. Its expected temperature then says how uncertain an embedding is. It ships as
``rts_quality.safetensors`` (an ensemble of 5 heads, each linear map with its batch norm folded in)
and ``rts_quality.json`` (configuration, calibration, and the held-out AUROC it reached).

    v = exp(W_h e + b_h)                               (dof values, for each head h of the ensemble)
    z = sign * mean_h log(sum_j v_j / (dof - 2))       sign calibrated on photos not trained on
    quality = 1 / (1 + exp(-(z - center) / width))     in (0, 1), higher = more reliable face

``sign`` (-1 as shipped: a high temperature means a poor face, the paper's reading) makes z higher
for fresh sharp photos than for strongly degraded ones (blur, darkness, noise, low resolution);
``center`` and ``width`` put the median of those sharp photos at 0.9 and the median of the degraded
ones at 0.1, so 0.5 is halfway between. The mapping is steep: most faces score near 0 or 1.
Held out (leave one identity out) the score separates sharp from degraded photos with AUROC 0.78 on
average (0.57-0.98 by person), well for blur and noise, weakly for darkness (0.62); on single photos
it can be wrong, so it is reported, never used to drop a photo. The score is only meaningful for
embeddings of the engine it was trained on (``backend`` in the JSON); ``quality_for`` returns None
for any other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .types import Face, FaceAnalyzer

HEAD_FILE = Path(__file__).with_name("rts_quality.safetensors")
TYPICAL_SHARP, TYPICAL_DEGRADED = 0.9, 0.1
"""Where the calibration puts the median held-out sharp face and the median degraded one."""


@dataclass(frozen=True)
class QualityHead:
    """An ensemble of variance heads, each Linear + BatchNorm folded into one affine map: weight
    (heads, dof, dim) and bias (heads, dof); their log-temperatures are averaged."""

    weight: np.ndarray
    bias: np.ndarray
    sign: int
    center: float
    width: float
    backend: str

    @property
    def dof(self) -> int:
        return self.bias.shape[1]

    @property
    def dim(self) -> int:
        return self.weight.shape[2]

    def log_temperature(self, embeddings: np.ndarray) -> np.ndarray:
        """Mean over heads of log E[T | v] = log(sum_j v_j / (dof - 2)), per row of ``embeddings`` (n, dim)."""
        embeddings = np.atleast_2d(np.asarray(embeddings, dtype=np.float64))
        log_v = np.einsum("nd,hkd->nhk", embeddings, self.weight.astype(np.float64)) + self.bias
        peak = log_v.max(axis=2, keepdims=True)
        log_sum = peak[..., 0] + np.log(np.exp(log_v - peak).sum(axis=2))
        return log_sum.mean(axis=1) - np.log(self.dof - 2)

    def quality(self, embeddings: np.ndarray) -> np.ndarray:
        """The calibrated score in (0, 1) per row."""
        z = self.sign * self.log_temperature(embeddings)
        return 1.0 / (1.0 + np.exp(-(z - self.center) / self.width))

    def save(self, path: Path, details: dict) -> None:
        """``path`` (.safetensors: weight, bias) and its .json: the calibration plus ``details``."""
        from safetensors.numpy import save_file

        save_file({"weight": self.weight.astype(np.float32), "bias": self.bias.astype(np.float32)}, str(path))
        config = {
            "backend": self.backend,
            "heads": int(self.weight.shape[0]),
            "dof": self.dof,
            "embedding_dim": self.dim,
            "sign": self.sign,
            "center": self.center,
            "width": self.width,
            **details,
        }
        path.with_suffix(".json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def calibrated_mapping(sharp: np.ndarray, degraded: np.ndarray) -> tuple[float, float]:
    """(center, width) putting the median signed score of ``sharp`` at TYPICAL_SHARP and that of
    ``degraded`` at TYPICAL_DEGRADED; the signed scores must already rank sharp above degraded."""
    high, low = float(np.median(sharp)), float(np.median(degraded))
    if high <= low:
        raise ValueError("the signed score does not put sharp faces above degraded ones: calibrate the sign first")
    center = (high + low) / 2
    return center, (high - center) / np.log(TYPICAL_SHARP / (1 - TYPICAL_SHARP))


@lru_cache(maxsize=2)
def load_quality_head(path: Path = HEAD_FILE) -> QualityHead:
    """The shipped head (safetensors + JSON), loaded once."""
    from safetensors.numpy import load_file

    tensors = load_file(str(path))
    config = json.loads(Path(path).with_suffix(".json").read_text(encoding="utf-8"))
    return QualityHead(
        tensors["weight"],
        tensors["bias"],
        int(config["sign"]),
        float(config["center"]),
        float(config["width"]),
        config["backend"],
    )


def face_quality(embedding: np.ndarray) -> float:
    """Reliability of one face from its unit dlib embedding (128,): in (0, 1), higher = more reliable
    (0.9 = a typical sharp held-out face, 0.1 = a typical blurred, dark, noisy or tiny one)."""
    head = load_quality_head()
    embedding = np.asarray(embedding, dtype=np.float64).ravel()
    if embedding.shape != (head.dim,):
        raise ValueError(f"the quality head takes {head.dim}-D {head.backend} embeddings, got shape {embedding.shape}")
    return float(head.quality(embedding)[0])


def quality_for(analyzer: FaceAnalyzer, face: Face) -> float | None:
    """``face_quality`` rounded for reports, or None when the head does not apply: ``analyzer`` is
    another engine, or its embedding is not the size the head was trained on."""
    head = load_quality_head()
    if analyzer.name != head.backend or np.asarray(face.embedding).size != head.dim:
        return None
    return round(face_quality(face.embedding), 3)
