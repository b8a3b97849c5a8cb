"""Generate tab: pick one of the workspace's models and a style from the gallery, add words, and get
portraits ranked by likeness (score, seed, or why a portrait was flagged), with results.json. The face
detail pass, template mode (a shipped template or the user's photo) and the operator's ControlNets are
in one accordion below the main choices."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import gradio as gr

from ..atomic import staged_file, staged_folder
from ..images import PhotoError, load_photo
from ..plots import title_card
from ..portrait.generation.request import (
    CONTROL_TYPES,
    DETAIL_STRENGTH,
    MAX_COUNT,
    TEMPLATE_STRENGTH,
    GenerationRequest,
)
from ..portrait.generation.styles import DEFAULT_STYLE, load_styles
from ..portrait.generation.templates import REFERENCE_PHOTO, SHIPPED_TEMPLATES
from ..portrait.model_folder import family_title, finished_run, trained_models
from ..wording import plural
from .errors import user_errors
from .jobs import ended, follow, submit, waiting_text

TITLE = "Generate"
APP_MAX_COUNT = min(MAX_COUNT, 8)
APP_MAX_TRIES = 3


def model_choices(workspace) -> list[tuple[str, str]]:
    """(label, name) of the workspace's models, newest first; the label names the model's family."""
    return [
        (f"{path.name} ({family_title(info)})", path.name) for path, info in trained_models(workspace.section("models"))
    ]


def style_cards(context) -> list[tuple[str, str]]:
    """(image path, caption) per style: its thumbnail, or a title card drawn once into the cache."""
    cards = []
    for style in load_styles(context.settings).styles.values():
        path = style.thumbnail if style.thumbnail and style.thumbnail.is_file() else None
        if path is None:
            path = context.settings.home / "style-cards" / f"{style.name}.png"
            if not path.is_file():
                with staged_file(path) as staging:
                    title_card(style.title, style.prompt.split(",")[0]).save(staging)
        cards.append((str(path), style.name))
    return cards


def caption(portrait: dict) -> str:
    """A portrait's line under its picture, from its entry in results.json."""
    score = "no score" if portrait["score"] is None else f"likeness {portrait['score']:.2f}"
    if portrait.get("likeness_percent") is not None:
        score += f" ({portrait['likeness_percent']:.0f}% of your photos')"
    refined = sum(face["refined"] for face in portrait.get("faces") or [])
    score += f" · {refined} face{'s' if refined > 1 else ''} refined" if refined else ""
    return f"{score} · seed {portrait['seed']}" + (f" · {portrait['flag']}" if portrait["flag"] else "")


NO_TEMPLATE = "none (new portraits)"
NO_CONTROLNET = "none"


def store_reference(context, workspace, upload: str, kind: str) -> str:
    """An uploaded template or control photo, checked and kept upright as PNG in the workspace's templates
    section (the job reads it there); its item name."""
    path = Path(upload)
    context.workspaces.check_room(workspace, path.stat().st_size)
    try:
        photo = load_photo(path, max_pixels=context.settings.max_image_pixels)
    except PhotoError as error:
        raise gr.Error(f"The {kind} photo cannot be used: {error}") from None
    name = f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
    with staged_folder(workspace.item("templates", name)) as staging:
        photo.image.save(staging / REFERENCE_PHOTO)
    try:
        context.workspaces.check_room(workspace, 0)  # the PNG can be larger than the upload was
    except Exception:
        workspace.delete("templates", name)
        raise
    return name


def structure_params(
    context, template: str | None, template_photo: str | None, controlnet: str | None, control_photo: str | None
) -> dict:
    """The template and ControlNet choices as job parameters (uploads not yet stored), checked."""
    params = {}
    if template and template != NO_TEMPLATE:
        if template not in SHIPPED_TEMPLATES:
            raise gr.Error(f"No template is called '{template}'.")
        if template_photo:
            raise gr.Error("Pick a shipped template or upload your own photo, not both.")
        params["template"] = template
    if controlnet and controlnet != NO_CONTROLNET:
        if controlnet not in context.settings.app_controlnets:
            raise gr.Error(f"This server offers no ControlNet called '{controlnet}'.")
        if not (template_photo or control_photo or params.get("template")):
            raise gr.Error("A ControlNet needs a template or a control photo to take the structure from.")
        params["controlnet"] = controlnet
    elif control_photo:
        raise gr.Error("A control photo steers a ControlNet: pick one (or remove the photo).")
    return params


def generation_params(
    context,
    workspace,
    model_name: str,
    style: str,
    prompt: str,
    count: float,
    seed: float,
    person: float,
    style_w: float,
    min_likeness: float | None = None,
    detail: bool = True,
    detail_strength: float = 0,
    detail_faces: str = "subject",
    template: str | None = None,
    template_photo: str | None = None,
    controlnet: str | None = None,
    control_type: str = "canny",
    control_scale: float = 1.0,
    control_photo: str | None = None,
    control_window: tuple[float, float] = (0.0, 1.0),
) -> dict:
    """The generation job a user asked for, checked before it is queued (uploads are stored after the check)."""
    if not model_name:
        raise gr.Error("Train a model first (Train tab), then pick it here.")
    model = workspace.item("models", model_name)
    if finished_run(model) is None:
        raise gr.Error(f"No trained model named '{model.name}' in this workspace.")
    if not 1 <= int(count) <= APP_MAX_COUNT:
        raise gr.Error(f"Make between 1 and {APP_MAX_COUNT} portraits at a time.")
    structure = structure_params(context, template, template_photo, controlnet, control_photo)
    params = {
        "model": model.name,
        "out": f"{model.name}-{time.strftime('%Y%m%d-%H%M%S')}",  # named now: a rerun after a restart writes the same
        "style": style or DEFAULT_STYLE,
        "prompt": prompt or "",
        "count": int(count),
        "seed": int(seed) if seed is not None and seed >= 0 else secrets.randbelow(2**31),  # fixed for reruns too
        "person_weight": float(person),
        "style_weight": float(style_w),
        **({"min_likeness": float(min_likeness), "max_tries": APP_MAX_TRIES} if min_likeness else {}),  # 0/empty: off
        "detail": bool(detail) or bool(template_photo) or "template" in structure,
        "detail_strength": float(detail_strength) if detail_strength else None,  # 0: the mode's default
        "detail_faces": (detail_faces or "subject").strip(),
        "control_type": control_type or "canny",
        "control_scale": float(control_scale),
        "control_start": float(control_window[0]),
        "control_end": float(control_window[1]),
        **structure,
    }
    check = {key: value for key, value in params.items() if key not in ("model", "out")}
    if template_photo:
        check["template"] = "your template photo"  # where the upload will be, for the check
    if control_photo and params.get("controlnet"):
        check["control_from"] = "your control photo"
    GenerationRequest(model=model, **check)  # refused here, not in a job
    if template_photo:
        params["template_upload"] = store_reference(context, workspace, template_photo, "template")
    if control_photo and params.get("controlnet"):
        params["control_upload"] = store_reference(context, workspace, control_photo, "control")
    return params


def output_view(workspace, name: str | None):
    """(gallery, summary, results.json) of a generation in the workspace; empty for none."""
    folder = workspace.item("outputs", name) if name else None
    if folder is None or not (folder / "results.json").is_file():
        return [], "", None
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    portraits = results["portraits"]
    gallery = [(str(folder / p["file"]), caption(p)) for p in portraits]
    summary = f"**{plural(len(gallery), 'portrait')}**, best likeness first. Prompt: *{results['prompt']}*"
    template = results["settings"].get("template")
    if template:
        shown = template if template in SHIPPED_TEMPLATES else "your photo"
        summary += f"\n\nTemplate: {shown} (your face in it, the rest as it was)."
    if portraits and all(p["flag"] for p in portraits):
        summary += "\n\n⚠️ No portrait passed the face checks; each shows why. They are kept so you can judge."
    scale = results.get("likeness_scale")
    if scale:
        summary += (
            f"\n\nLikeness %: 100 = as alike as your {scale['photos']} training photos are to each other; "
            "0 = where the face engine stops calling two faces one person."
        )
    if results.get("notice"):
        summary += f"\n\n{results['notice']}."
    return gallery, summary, str(folder / "results.json")


def generate_portraits(context, token: str, *choices, progress=None):
    """Handler of Generate: queue the job, follow it, yield (gallery, summary, results.json)."""
    workspace = context.workspace(token)
    params = generation_params(context, workspace, *choices)
    try:
        queued = submit(context, workspace, "generate", params)
    except Exception:  # refused (too many jobs ...): the photos stored for it go too
        for key in ("template_upload", "control_upload"):
            if params.get(key):
                workspace.delete("templates", params[key])
        raise
    for job in follow(context, queued, progress, "sampling step"):
        if not job.done:
            yield gr.skip(), waiting_text(context, job), gr.skip()
    yield output_view(workspace, ended(job).result["output"])


def build(context, token) -> None:
    cards = style_cards(context)
    with gr.Row():
        with gr.Column(scale=1):
            # custom values let API clients name their model directly; the handler checks it is in the workspace
            model = gr.Dropdown(choices=[], label="Your model", allow_custom_value=True)
            refresh = gr.Button("Refresh model list", size="sm")
            styles = gr.Gallery(cards, label="Style (click one)", columns=4, height=300, allow_preview=False)
            style = gr.Textbox(value=DEFAULT_STYLE, label="Style", interactive=False)
            prompt = gr.Textbox(label="Your words", placeholder="e.g. red scarf, smiling")
            count = gr.Slider(1, APP_MAX_COUNT, value=4, step=1, label="Portraits")
            seed = gr.Number(value=-1, precision=0, label="Seed (-1: random)")
            person_weight = gr.Slider(0.0, 1.5, value=0.9, step=0.05, label="Person weight")
            style_weight = gr.Slider(0.0, 1.5, value=0.25, step=0.05, label="Style weight (style LoRAs only)")
            min_likeness = gr.Number(
                value=0,
                label=f"Minimum likeness % (0: off; else up to {APP_MAX_TRIES} rounds with new seeds)",
                info="100: as alike as your own photos are to each other",
            )
            with gr.Accordion("Face detail, template photo and structure control", open=False):
                detail = gr.Checkbox(
                    value=True,
                    label="Face detail pass (always on with a template)",
                    info="re-draws the face at full resolution with your model, then pastes it back",
                )
                detail_strength = gr.Slider(
                    0.0,
                    1.0,
                    value=0,
                    step=0.05,
                    label=f"Detail strength (0: default, {DETAIL_STRENGTH:g}; {TEMPLATE_STRENGTH:g} with a template)",
                )
                detail_faces = gr.Textbox(
                    value="subject", label="Faces to refine", info="subject (the largest), all, or numbers: 1,3"
                )
                template = gr.Dropdown(
                    [NO_TEMPLATE, *SHIPPED_TEMPLATES],
                    value=NO_TEMPLATE,
                    label="Template photo: your face goes into it, the rest stays",
                    info="; ".join(f"{t.name}: {t.title}" for t in SHIPPED_TEMPLATES.values()),
                )
                template_photo = gr.Image(type="filepath", label="…or your own template photo", height=160)
                controlnet = gr.Dropdown(
                    [NO_CONTROLNET, *context.settings.app_controlnets],
                    value=NO_CONTROLNET,
                    label="ControlNet (structure from the template or a control photo)",
                    info=None
                    if context.settings.app_controlnets
                    else "none offered on this server (the operator lists them in FACECHAIN_APP_CONTROLNETS)",
                    interactive=bool(context.settings.app_controlnets),
                )
                control_type = gr.Radio(list(CONTROL_TYPES), value="canny", label="Control image from the photo")
                control_scale = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label="Control strength")
                with gr.Row():
                    control_start = gr.Slider(0.0, 1.0, value=0.0, step=0.05, label="Control from (share of steps)")
                    control_end = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="Control until")
                control_photo = gr.Image(
                    type="filepath", label="Control photo (else the structure comes from the template)", height=160
                )
            run = gr.Button("Generate", variant="primary")
        with gr.Column(scale=2):
            summary = gr.Markdown()
            gallery = gr.Gallery(label="Portraits, best likeness first", columns=3, height="auto")
            results = gr.File(label="results.json")

    def pick(event: gr.SelectData):
        return cards[event.index][1]

    @user_errors
    def models(token_value):
        choices = model_choices(context.workspace(token_value))
        return gr.update(choices=choices, value=choices[0][1] if choices else None)

    @user_errors
    def handler(
        model_name,
        style_name,
        words,
        how_many,
        seed_value,
        person,
        style_w,
        token_value,
        least_likeness=None,
        refine=True,
        refine_strength=0,
        refine_faces="subject",
        template_name=None,
        template_upload=None,
        controlnet_name=None,
        control_kind="canny",
        control_weight=1.0,
        control_upload=None,
        control_from=0.0,
        control_until=1.0,
        progress=gr.Progress(),
    ):
        choices = (
            *(model_name, style_name, words, how_many, seed_value, person, style_w, least_likeness),
            *(refine, refine_strength, refine_faces, template_name, template_upload),
            *(controlnet_name, control_kind, control_weight, control_upload, (control_from, control_until)),
        )
        yield from generate_portraits(context, token_value, *choices, progress=progress)

    @user_errors
    def show(token_value):
        """On page load: the models and the newest portraits."""
        workspace = context.workspace(token_value)
        outputs = workspace.items("outputs")
        return (models(token_value), *output_view(workspace, outputs[0].name if outputs else None))

    styles.select(pick, None, style)
    refresh.click(models, token, model, api_name="models")
    model.focus(models, token, model, api_visibility="undocumented")
    token.change(show, token, [model, gallery, summary, results], api_visibility="undocumented")
    run.click(
        handler,
        [
            *(model, style, prompt, count, seed, person_weight, style_weight, token, min_likeness),
            *(detail, detail_strength, detail_faces, template, template_photo),
            *(controlnet, control_type, control_scale, control_photo, control_start, control_end),
        ],
        [gallery, summary, results],
        api_name="generate",
    )
