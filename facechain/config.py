"""One place for the settings a user may want to change, each overridable by an environment variable.

Callers take a ``Settings`` (or ``Settings.from_env()``) instead of reading the environment
themselves, so a test or the app can run with its own values side by side.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

SHIPPED_MOTION_MODEL = Path(__file__).parent / "motion" / "pretrained" / "procedural_h36m"


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class Settings:
    """Runtime settings.

    face_backend: ``auto`` (insightface when its model pack is present, else dlib), ``dlib`` or
        ``insightface``. Env ``FACECHAIN_FACE_BACKEND``.
    insightface_root / insightface_pack: where insightface model packs live
        (``<root>/models/<pack>/*.onnx``, insightface's own layout). Env ``FACECHAIN_INSIGHTFACE_ROOT``,
        ``FACECHAIN_INSIGHTFACE_PACK``.
    max_image_pixels: photos larger than this are refused from their header, before decoding
        (decompression-bomb guard). Env ``FACECHAIN_MAX_IMAGE_PIXELS``.
    base_model: Stable Diffusion 1.5-class model, a hub id or a local folder in diffusers' layout.
        Env ``FACECHAIN_BASE_MODEL``.
    home: facechain's own cache (the tiny offline model lives here). Env ``FACECHAIN_HOME``.
    motion_model: the HumanMAC pipeline folder the Motion tab and ``facechain motion`` use when none is
        named (default: the small procedural-motion model shipped in the package). Env
        ``FACECHAIN_MOTION_MODEL``.
    app_base_models: the base models the app's users choose among (the operator's list: hub ids or local
        folders); empty: ``base_model`` alone. App users never type a model or a path, so the app neither
        reveals which server paths exist nor downloads what a user names. Env ``FACECHAIN_APP_BASE_MODELS``,
        comma-separated.
    app_controlnets: the ControlNets the app's users choose among (hub ids or local folders, of the base
        models' family); empty: structure control is off in the app. Env ``FACECHAIN_APP_CONTROLNETS``,
        comma-separated.
    job_slots: how many app jobs run at once per slot class, e.g. ``gpu=1,cpu=2`` (training and generation
        take "gpu" slots, the rest "cpu"; default one each). Env ``FACECHAIN_SLOTS``.
    workspace_max_mb: the most one app workspace may hold. Env ``FACECHAIN_WORKSPACE_MAX_MB``.
    workspace_max_age_days: anonymous app workspaces unseen this long are removed. Env
        ``FACECHAIN_WORKSPACE_MAX_AGE_DAYS``.
    max_jobs: unfinished jobs (queued or running) one workspace may have. Env ``FACECHAIN_MAX_JOBS``.
    broker: a Redis URL (``redis://HOST:PORT/0``): the app sends its jobs to Celery workers started with
        ``facechain worker --broker`` instead of running them itself. Env ``FACECHAIN_BROKER``.
    """

    face_backend: str = "auto"
    insightface_root: Path = field(default_factory=lambda: Path.home() / ".insightface")
    insightface_pack: str = "buffalo_l"
    max_image_pixels: int = 120_000_000
    base_model: str = "stable-diffusion-v1-5/stable-diffusion-v1-5"
    home: Path = field(default_factory=lambda: Path.home() / ".cache" / "facechain")
    motion_model: Path = SHIPPED_MOTION_MODEL
    app_base_models: tuple[str, ...] = ()
    app_controlnets: tuple[str, ...] = ()
    job_slots: str = ""
    workspace_max_mb: int = 5000
    workspace_max_age_days: float = 30.0
    max_jobs: int = 4
    broker: str = ""

    @property
    def offered_base_models(self) -> tuple[str, ...]:
        """The base models the app offers, in the operator's order."""
        return self.app_base_models or (self.base_model,)

    def to_env(self) -> dict[str, str]:
        """These settings as the environment ``from_env`` reads (how the app hands them to its worker processes)."""
        return {
            "FACECHAIN_FACE_BACKEND": self.face_backend,
            "FACECHAIN_INSIGHTFACE_ROOT": str(self.insightface_root),
            "FACECHAIN_INSIGHTFACE_PACK": self.insightface_pack,
            "FACECHAIN_MAX_IMAGE_PIXELS": str(self.max_image_pixels),
            "FACECHAIN_BASE_MODEL": self.base_model,
            "FACECHAIN_HOME": str(self.home),
            "FACECHAIN_MOTION_MODEL": str(self.motion_model),
            "FACECHAIN_APP_BASE_MODELS": ",".join(self.app_base_models),
            "FACECHAIN_APP_CONTROLNETS": ",".join(self.app_controlnets),
            "FACECHAIN_SLOTS": self.job_slots,
            "FACECHAIN_WORKSPACE_MAX_MB": str(self.workspace_max_mb),
            "FACECHAIN_WORKSPACE_MAX_AGE_DAYS": str(self.workspace_max_age_days),
            "FACECHAIN_MAX_JOBS": str(self.max_jobs),
            "FACECHAIN_BROKER": self.broker,
        }

    @classmethod
    def from_env(cls) -> Settings:
        defaults = cls()
        return cls(
            face_backend=_env("FACECHAIN_FACE_BACKEND", defaults.face_backend),
            insightface_root=Path(_env("FACECHAIN_INSIGHTFACE_ROOT", str(defaults.insightface_root))).expanduser(),
            insightface_pack=_env("FACECHAIN_INSIGHTFACE_PACK", defaults.insightface_pack),
            max_image_pixels=int(_env("FACECHAIN_MAX_IMAGE_PIXELS", str(defaults.max_image_pixels))),
            base_model=_env("FACECHAIN_BASE_MODEL", defaults.base_model),
            home=Path(_env("FACECHAIN_HOME", str(defaults.home))).expanduser(),
            motion_model=Path(_env("FACECHAIN_MOTION_MODEL", str(defaults.motion_model))).expanduser(),
            app_base_models=_env_list("FACECHAIN_APP_BASE_MODELS"),
            app_controlnets=_env_list("FACECHAIN_APP_CONTROLNETS"),
            job_slots=_env("FACECHAIN_SLOTS", defaults.job_slots),
            workspace_max_mb=int(_env("FACECHAIN_WORKSPACE_MAX_MB", str(defaults.workspace_max_mb))),
            workspace_max_age_days=float(
                _env("FACECHAIN_WORKSPACE_MAX_AGE_DAYS", str(defaults.workspace_max_age_days))
            ),
            max_jobs=int(_env("FACECHAIN_MAX_JOBS", str(defaults.max_jobs))),
            broker=_env("FACECHAIN_BROKER", defaults.broker),
        )


def _env_list(name: str) -> tuple[str, ...]:
    """A comma-separated list from the environment, blanks dropped."""
    return tuple(item.strip() for item in _env(name, "").split(",") if item.strip())
