"""Skeletons of the two benchmark datasets in the VideoPose3D joint order: parents, sides, the body
parts HumanMAC's control mode keeps, and each dataset's frame rate and history/future lengths."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import BadArguments


@dataclass(frozen=True)
class Skeleton:
    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    parts: dict
    fps: int
    t_his: int
    t_pred: int
    dct_coefficients: int

    @property
    def count(self) -> int:
        return len(self.joints)

    def part(self, name: str) -> tuple[int, ...]:
        if name not in self.parts:
            raise BadArguments(f"unknown body part {name!r} for {self.name}; choose from {', '.join(self.parts)}")
        return self.parts[name]

    def mirrored(self) -> list[int]:
        """Joint order after a left-right mirror: each left joint swaps with its right twin."""
        order = list(range(self.count))
        for left, right in zip(self.left, self.right):
            order[left], order[right] = right, left
        return order


H36M = Skeleton(
    name="h36m",
    joints=(
        "hip",
        "right_hip",
        "right_knee",
        "right_foot",
        "left_hip",
        "left_knee",
        "left_foot",
        "spine",
        "thorax",
        "neck",
        "head",
        "left_shoulder",
        "left_elbow",
        "left_wrist",
        "right_shoulder",
        "right_elbow",
        "right_wrist",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    left=(4, 5, 6, 11, 12, 13),
    right=(1, 2, 3, 14, 15, 16),
    parts={
        "right_leg": (1, 2, 3),
        "left_leg": (4, 5, 6),
        "torso": (0, 7, 8, 9, 10),
        "left_arm": (11, 12, 13),
        "right_arm": (14, 15, 16),
        "lower": (0, 1, 2, 3, 4, 5, 6),
        "upper": (7, 8, 9, 10, 11, 12, 13, 14, 15, 16),
    },
    fps=50,
    t_his=25,
    t_pred=100,
    dct_coefficients=20,
)

HUMANEVA = Skeleton(
    name="humaneva",
    joints=(
        "pelvis",
        "thorax",
        "left_shoulder",
        "left_elbow",
        "left_wrist",
        "right_shoulder",
        "right_elbow",
        "right_wrist",
        "left_hip",
        "left_knee",
        "left_ankle",
        "right_hip",
        "right_knee",
        "right_ankle",
        "head",
    ),
    parents=(-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 1),
    left=(2, 3, 4, 8, 9, 10),
    right=(5, 6, 7, 11, 12, 13),
    parts={
        "left_arm": (2, 3, 4),
        "right_arm": (5, 6, 7),
        "left_leg": (8, 9, 10),
        "right_leg": (11, 12, 13),
        "torso": (0, 1, 14),
        "lower": (0, 8, 9, 10, 11, 12, 13),
        "upper": (1, 2, 3, 4, 5, 6, 7, 14),
    },
    fps=60,
    t_his=15,
    t_pred=60,
    dct_coefficients=10,
)

SKELETONS = {skeleton.name: skeleton for skeleton in (H36M, HUMANEVA)}
