"""Procedural 17-joint (Human3.6M order) skeleton motion: the embedded default dataset, since no motion
capture data ships in any package.

A clip is forward kinematics over fixed bone lengths (metres, z up, walking along +y). Joint angles are
phase-offset sinusoids of one gait phase: hip and knee flexion, counter-swinging shoulders with bent
elbows, torso twist and root bob. A *style* (idle, walk, run) sets cadence, amplitudes and speed,
each varied per clip; a clip may switch style part-way, blending over half a second, and small
jitter is added. ``branching_clips`` makes several clips that share their history and then switch to
different styles: the multimodal futures that stochastic prediction is about.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .skeleton import H36M

# each joint's offset from its parent in the rest pose (H36M joint order)
OFFSETS = np.array(
    [
        [0, 0, 0],
        [-0.13, 0, 0],
        [0, 0, -0.45],
        [0, 0, -0.44],
        [0.13, 0, 0],
        [0, 0, -0.45],
        [0, 0, -0.44],
        [0, 0, 0.23],
        [0, 0, 0.25],
        [0, 0, 0.11],
        [0, 0, 0.12],
        [0.17, 0, 0],
        [0, 0, -0.28],
        [0, 0, -0.25],
        [-0.17, 0, 0],
        [0, 0, -0.28],
        [0, 0, -0.25],
    ],
    dtype=np.float64,
)
HIP_HEIGHT = 0.92


@dataclass(frozen=True)
class GaitStyle:
    """Cadence (strides per second), joint amplitudes (radians), speed (m/s), root bob (m)."""

    cadence: float
    hip: float
    knee: float
    shoulder: float
    elbow: float
    twist: float
    speed: float
    bob: float


STYLES = {
    "idle": GaitStyle(cadence=0.3, hip=0.04, knee=0.05, shoulder=0.05, elbow=0.25, twist=0.03, speed=0.0, bob=0.005),
    "walk": GaitStyle(cadence=0.9, hip=0.45, knee=0.6, shoulder=0.35, elbow=0.35, twist=0.08, speed=1.3, bob=0.03),
    "run": GaitStyle(cadence=1.4, hip=0.75, knee=1.3, shoulder=0.6, elbow=1.2, twist=0.12, speed=3.0, bob=0.07),
}


def rotation_x(angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(angle), np.zeros_like(angle)
    return np.stack([np.stack([one, zero, zero], -1), np.stack([zero, c, -s], -1), np.stack([zero, s, c], -1)], -2)


def rotation_z(angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(angle), np.zeros_like(angle)
    return np.stack([np.stack([c, -s, zero], -1), np.stack([s, c, zero], -1), np.stack([zero, zero, one], -1)], -2)


def varied(style: GaitStyle, rng: np.random.Generator, spread: float = 0.15) -> GaitStyle:
    """The style with every parameter scaled by a random factor in [1 - spread, 1 + spread]."""
    return GaitStyle(*(value * rng.uniform(1 - spread, 1 + spread) for value in style.__dict__.values()))


def blend(a: GaitStyle, b: GaitStyle, weight: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame parameters going from ``a`` (weight 0) to ``b`` (weight 1)."""
    return {key: (1 - weight) * getattr(a, key) + weight * getattr(b, key) for key in a.__dict__}


def forward_kinematics(local: np.ndarray, root: np.ndarray) -> np.ndarray:
    """local (T, J, 3, 3) joint rotations, root (T, 3) -> positions (T, J, 3)."""
    frames = len(root)
    positions = np.zeros((frames, H36M.count, 3))
    world = np.zeros((frames, H36M.count, 3, 3))
    for joint, parent in enumerate(H36M.parents):
        if parent < 0:
            positions[:, joint], world[:, joint] = root, local[:, joint]
            continue
        positions[:, joint] = positions[:, parent] + np.einsum("tij,j->ti", world[:, parent], OFFSETS[joint])
        world[:, joint] = world[:, parent] @ local[:, joint]
    return positions


def clip(
    styles: list[tuple[int, GaitStyle]],
    frames: int,
    fps: int = H36M.fps,
    phase: float = 0.0,
    jitter: float = 0.003,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """(frames, 17, 3) positions. ``styles``: (start frame, style) in order; each change blends in over
    half a second from its start frame."""
    rng = rng or np.random.default_rng()
    params = {key: np.full(frames, value, dtype=np.float64) for key, value in styles[0][1].__dict__.items()}
    for (_, previous), (start, style) in zip(styles, styles[1:]):
        weight = np.clip((np.arange(frames) - start) / (0.5 * fps), 0.0, 1.0)
        mixed = blend(previous, style, weight)
        for key in params:
            params[key] = np.where(np.arange(frames) >= start, mixed[key], params[key])
    gait = phase + 2 * np.pi * np.cumsum(params["cadence"]) / fps
    local = np.tile(np.eye(3), (frames, H36M.count, 1, 1))
    swing = np.sin(gait)
    for hip, knee, sign in ((1, 2, 1.0), (4, 5, -1.0)):
        local[:, hip] = rotation_x(-sign * params["hip"] * swing)  # negative x-rotation swings the leg forward
        local[:, knee] = rotation_x(params["knee"] * np.clip(np.sin(gait + sign * np.pi / 2 + np.pi / 4), 0, None))
    for shoulder, elbow, sign in ((11, 12, 1.0), (14, 15, -1.0)):
        local[:, shoulder] = rotation_x(-sign * params["shoulder"] * swing)  # against the same side's leg
        local[:, elbow] = rotation_x(-params["elbow"] * (0.6 + 0.4 * np.abs(swing)))
    local[:, 7] = rotation_z(params["twist"] * swing)
    root = np.stack(
        [np.zeros(frames), np.cumsum(params["speed"]) / fps, HIP_HEIGHT + params["bob"] * np.abs(np.cos(gait))], -1
    )
    return forward_kinematics(local, root) + rng.normal(0.0, jitter, (frames, H36M.count, 3))


def random_clip(frames: int, rng: np.random.Generator, switch_probability: float = 0.5) -> np.ndarray:
    """One clip of a random varied style, switching to another one part-way with the given probability."""
    names = list(STYLES)
    plan = [(0, varied(STYLES[names[rng.integers(len(names))]], rng))]
    if rng.random() < switch_probability:
        plan.append((int(rng.integers(frames // 4, frames)), varied(STYLES[names[rng.integers(len(names))]], rng)))
    return clip(plan, frames, phase=rng.uniform(0, 2 * np.pi), rng=rng)


def branching_clips(count: int, history: int, future: int, rng: np.random.Generator) -> np.ndarray:
    """(count, history + future, 17, 3): one shared history, then each clip switches (or not) to its
    own style shortly after the history ends."""
    names = list(STYLES)
    start = varied(STYLES[names[rng.integers(len(names))]], rng)
    phase = rng.uniform(0, 2 * np.pi)
    clips = []
    for _ in range(count):
        target = varied(STYLES[names[rng.integers(len(names))]], rng)
        clips.append(
            clip(
                [(0, start), (history + int(rng.integers(0, future // 4)), target)],
                history + future,
                phase=phase,
                jitter=0.0,
                rng=rng,
            )
        )
    return np.stack(clips)


def root_relative(positions: np.ndarray) -> np.ndarray:
    """(T, 17, 3) -> (T, 48): joints relative to the root, root dropped (HumanMAC's input)."""
    relative = positions[:, 1:] - positions[:, :1]
    return relative.reshape(len(positions), -1)
