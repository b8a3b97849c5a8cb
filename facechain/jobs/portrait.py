"""The portrait pipeline's jobs, each inside its owner's workspace (``facechain.jobs.kinds``)."""

from __future__ import annotations

import time
from dataclasses import asdict

from ..config import Settings
from ..errors import BadArguments
from ..progress import Progress
from ..workspace import Workspace, safe_name


def run_prepare(params: dict, workspace: Workspace, settings: Settings, progress: Progress) -> dict:
    """Photos of ``params["photos"]`` (a photo set) -> the training set of the same name."""
    from ..portrait import NoUsablePhotos, prepare

    name = safe_name(params["photos"], "photos")
    photos = workspace.existing("photos", name)
    try:
        result = prepare(
            [photos],
            workspace.item("datasets", name),
            trigger=params.get("trigger") or "sks",
            class_word=(params.get("class_word") or "").strip() or None,
            max_photos=int(params.get("max_photos", 20)),
            overwrite=True,
            settings=settings,
            max_request_pixels=params.get("max_request_pixels"),
            progress=progress,
        )
    except NoUsablePhotos as error:  # a result, not a failure: every photo's reason is shown
        return {"dataset": None, "error": str(error), "photos": [asdict(p) for p in error.photos]}
    return {"dataset": name, "kept": len(result.kept), "photos": len(result.photos)}


def run_train(params: dict, workspace: Workspace, settings: Settings, progress: Progress) -> dict:
    """A LoRA on dataset ``params["dataset"]`` into model ``params["name"]``; resumes from the newest
    checkpoint when an earlier attempt of this job left one."""
    from ..checkpoints import latest_checkpoint
    from ..portrait import train
    from ..portrait.model_folder import CHECKPOINTS
    from ..portrait.training.config import TrainConfig

    out = workspace.item("models", params["name"])
    optional = {
        key: params[key]
        for key in ("seed", "validation_images", "checkpoint_every", "face_loss_weight")
        if key in params
    }
    config = TrainConfig(
        dataset=workspace.existing("datasets", params["dataset"]),
        out=out,
        tiny=params.get("tiny") or None,  # a family; True in jobs queued before there were several
        base_model=params.get("base_model"),
        steps=int(params["steps"]),
        sude_weight=float(params.get("sude_weight", 0.0)),
        resume=bool(params.get("resume")) or latest_checkpoint(out / CHECKPOINTS) is not None,
        **optional,
    )
    result = train(config, settings, progress=progress)
    return {"model": out.name, "steps": result.steps}


def run_generate(params: dict, workspace: Workspace, settings: Settings, progress: Progress) -> dict:
    """Portraits of model ``params["model"]`` into ``outputs/<model>-<time>``."""
    from ..portrait.generation.generate import generate, write_generation
    from ..portrait.generation.request import GenerationRequest
    from ..portrait.generation.templates import REFERENCE_PHOTO, shipped_template

    model = workspace.existing("models", params["model"])
    allowed = {
        "style",
        "prompt",
        "count",
        "seed",
        "person_weight",
        "style_weight",
        "steps",
        "scheduler",
        "min_likeness",
        "max_tries",
        "detail",
        "detail_strength",
        "detail_faces",
        "control_type",
        "control_scale",
        "control_start",
        "control_end",
    }
    photos = {"template_upload": "template", "control_upload": "control_from"}  # workspace photos, by item name
    unknown = set(params) - allowed - set(photos) - {"model", "out", "template", "controlnet"}
    if unknown:
        raise BadArguments(f"unknown generation options: {', '.join(sorted(unknown))}")
    options = {key: value for key, value in params.items() if key in allowed}
    for key, option in photos.items():
        if params.get(key):
            options[option] = str(workspace.existing("templates", params[key]) / REFERENCE_PHOTO)
    if params.get("template"):
        options["template"] = shipped_template(params["template"])
    if params.get("controlnet"):
        if params["controlnet"] not in settings.app_controlnets:
            raise BadArguments(f"ControlNet {params['controlnet']!r} is not one this server offers")
        options["controlnet"] = params["controlnet"]
    request = GenerationRequest(model=model, **options)
    out_name = safe_name(params.get("out") or f"{model.name}-{time.strftime('%Y%m%d-%H%M%S')}", "portraits")
    result = generate(request, settings, progress=progress)
    for key, option in photos.items():  # results.json names the workspace item, not its server path
        if params.get(key):
            result.settings[option] = f"templates/{safe_name(params[key], 'photo')}"
    write_generation(result, workspace.item("outputs", out_name))
    return {"output": out_name, "portraits": len(result.portraits)}
