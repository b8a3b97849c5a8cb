"""Animate a motion history and its predicted futures: a 3D skeleton per future, seen from a fixed
oblique camera (orthographic), history frames in grey, then each future in its own colour, side by
side. Drawn with Pillow; written as a GIF, or as an H.264 MP4 when the path ends in .mp4 (needs the
``video`` extra: imageio-ffmpeg, which ships its own ffmpeg).

A flat drawing of legs swinging past each other reads as legs crossing in an X (it did in the README's
walk, whose legs stay 23 cm apart in 3D), so depth is drawn: the body's left side in a lighter shade of
its colour, and bones from the farthest to the nearest, so the near leg covers the far one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..atomic import staged_file
from ..errors import EnvironmentProblem
from ..plots import COLOURS
from .skeleton import Skeleton

HISTORY = (120, 120, 120)
RECORDED = (0, 0, 0)


def project(joints: np.ndarray, azimuth: float = 0.6, elevation: float = 0.25) -> np.ndarray:
    """(..., J, 3) z-up positions -> (..., J, 2) screen coordinates (x right, y down), orthographic."""
    x = np.cos(azimuth) * joints[..., 0] - np.sin(azimuth) * joints[..., 1]
    y = joints[..., 2] * np.cos(elevation) - depth(joints, azimuth) * np.sin(elevation)
    return np.stack([x, -y], axis=-1)


def depth(joints: np.ndarray, azimuth: float = 0.6) -> np.ndarray:
    """(..., J, 3) -> (..., J) distance toward the camera of ``project`` (larger: nearer)."""
    return np.sin(azimuth) * joints[..., 0] + np.cos(azimuth) * joints[..., 1]


def lighter(colour: tuple[int, int, int], share: float = 0.45) -> tuple[int, int, int]:
    """``colour`` mixed with ``share`` of white: the shade of the body's left side."""
    return tuple(round(c + (255 - c) * share) for c in colour)


def with_root(features: np.ndarray) -> np.ndarray:
    """(..., T, 3(J-1)) root-relative features -> (..., T, J, 3) with the root at the origin."""
    joints = features.reshape(*features.shape[:-1], -1, 3)
    return np.concatenate([np.zeros_like(joints[..., :1, :]), joints], axis=-2)


def animate(
    history: np.ndarray,
    futures: np.ndarray,
    skeleton: Skeleton,
    path: Path,
    panel: int = 200,
    fps: int | None = None,
    recorded: np.ndarray | None = None,
) -> Path:
    """history (t_his, F), futures (K, t_pred, F) root-relative -> an animation (GIF or MP4) of K panels,
    plus a black "recorded" panel when the recorded continuation (up to t_pred frames) is given."""
    panels = list(futures)
    if recorded is not None:
        held = np.repeat(recorded[-1:], futures.shape[1] - len(recorded), 0)  # a short recording holds its last pose
        panels.append(np.concatenate([recorded, held]))
    clips = np.concatenate([np.repeat(history[None], len(panels), 0), np.stack(panels)], axis=1)
    colours = [COLOURS[k % len(COLOURS)] for k in range(len(futures))] + [RECORDED] * (recorded is not None)
    labels = [f"future {k + 1}" for k in range(len(futures))] + ["recorded"] * (recorded is not None)
    screen = project(with_root(clips))  # (panels, T, J, 2)
    nearness = depth(with_root(clips))  # (panels, T, J)
    bones = [(joint, parent) for joint, parent in enumerate(skeleton.parents) if parent >= 0]
    low, high = screen.reshape(-1, 2).min(0), screen.reshape(-1, 2).max(0)
    scale = 0.85 * panel / max(float((high - low).max()), 1e-6)
    centre = (low + high) / 2
    frames = []
    for t in range(0, clips.shape[1], 2):  # every second frame, shown twice as long: half the file
        image = Image.new("RGB", (panel * len(clips), panel), "white")
        draw = ImageDraw.Draw(image)
        for k in range(len(clips)):
            colour = HISTORY if t < len(history) else colours[k]
            points = (screen[k, t] - centre) * scale + np.array([panel * k + panel / 2, panel / 2])
            for joint, parent in sorted(bones, key=lambda bone: nearness[k, t, list(bone)].mean()):
                shade = lighter(colour) if joint in skeleton.left else colour
                draw.line([tuple(points[parent]), tuple(points[joint])], fill=shade, width=3)
            draw.text((panel * k + 6, 6), "history" if t < len(history) else labels[k], fill=colour)
        frames.append(image)
    return save_animation(frames, Path(path), (fps or skeleton.fps) / 2)


def save_animation(frames: list[Image.Image], path: Path, fps: float) -> Path:
    with staged_file(path) as staging:
        if path.suffix.lower() == ".mp4":
            try:
                import imageio_ffmpeg
            except ImportError:
                raise EnvironmentProblem(
                    "MP4 output needs imageio-ffmpeg: pip install 'facechain[video]', or write a .gif"
                ) from None
            writer = imageio_ffmpeg.write_frames(
                str(staging), frames[0].size, fps=fps, macro_block_size=8, ffmpeg_log_level="error"
            )
            writer.send(None)
            for frame in frames:
                writer.send(frame.tobytes())
            writer.close()
        else:
            frames[0].save(staging, save_all=True, append_images=frames[1:], duration=int(1000 / fps), loop=0)
    return path
