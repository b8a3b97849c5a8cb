"""Generate tab: pick one of the session's models and a style from the gallery, add words, and get
portraits ranked by likeness (score, seed, or why a portrait was flagged), with results.json."""

from __future__ import annotations

import time

import gradio as gr

from ..atomic import staged_file
from ..plots import title_card
from ..portrait.generation.generate import generate, write_generation
from ..portrait.generation.request import MAX_COUNT, GenerationRequest
from ..portrait.generation.styles import DEFAULT_STYLE, load_styles
from ..portrait.model_folder import finished_run
from .errors import user_errors
from .progress import gradio_progress

TITLE = "Generate"
APP_MAX_COUNT = min(MAX_COUNT, 8)


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


def caption(portrait) -> str:
    score = "no score" if portrait.score is None else f"likeness {portrait.score:.2f}"
    return f"{score} · seed {portrait.seed}" + (f" · {portrait.flag}" if portrait.flag else "")


def generate_portraits(
    context,
    request,
    model_name: str,
    style: str,
    prompt: str,
    count: float,
    seed: float,
    person_weight: float,
    style_weight: float,
    progress=None,
):
    """Handler of Generate: (gallery, summary, results.json)."""
    if not model_name:
        raise gr.Error("Train a model first (Train tab), then pick it here.")
    model = context.model_dir(request, model_name)
    if finished_run(model) is None:
        raise gr.Error(f"No trained model named '{model.name}' in this session.")
    if not 1 <= int(count) <= APP_MAX_COUNT:
        raise gr.Error(f"Make between 1 and {APP_MAX_COUNT} portraits at a time.")
    out = context.session_dir(request) / "outputs" / f"{model.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    result = generate(
        GenerationRequest(
            model=model,
            style=style or DEFAULT_STYLE,
            prompt=prompt or "",
            count=int(count),
            seed=int(seed) if seed is not None and seed >= 0 else None,
            person_weight=float(person_weight),
            style_weight=float(style_weight),
        ),
        context.settings,
        progress=gradio_progress(progress, "image"),
    )
    write_generation(result, out)
    gallery = [(portrait.image, caption(portrait)) for portrait in result.portraits]
    summary = f"**{len(gallery)} portraits**, best likeness first. Prompt: *{result.prompt}*"
    if result.all_flagged:
        summary += "\n\n⚠️ No portrait passed the face checks; each shows why. They are kept so you can judge."
    if result.notice:
        summary += f"\n\n{result.notice}."
    return gallery, summary, str(out / "results.json")


def build(context) -> None:
    cards = style_cards(context)
    with gr.Row():
        with gr.Column(scale=1):
            # custom values let API clients name their model directly; the handler checks it exists in the session
            model = gr.Dropdown(choices=[], label="Your model", allow_custom_value=True)
            refresh = gr.Button("Refresh model list", size="sm")
            styles = gr.Gallery(cards, label="Style (click one)", columns=4, height=300, allow_preview=False)
            style = gr.Textbox(value=DEFAULT_STYLE, label="Style", interactive=False)
            prompt = gr.Textbox(label="Your words", placeholder="e.g. red scarf, smiling")
            count = gr.Slider(1, APP_MAX_COUNT, value=4, step=1, label="Portraits")
            seed = gr.Number(value=-1, precision=0, label="Seed (-1: random)")
            person_weight = gr.Slider(0.0, 1.5, value=0.9, step=0.05, label="Person weight")
            style_weight = gr.Slider(0.0, 1.5, value=0.25, step=0.05, label="Style weight (style LoRAs only)")
            run = gr.Button("Generate", variant="primary")
        with gr.Column(scale=2):
            summary = gr.Markdown()
            gallery = gr.Gallery(label="Portraits, best likeness first", columns=3, height="auto")
            results = gr.File(label="results.json")

    def pick(event: gr.SelectData):
        return cards[event.index][1]

    @user_errors
    def models(request: gr.Request):
        names = [m["name"] for m in context.session_models(request)]
        return gr.update(choices=names, value=names[0] if names else None)

    @user_errors
    def handler(
        model_name,
        style_name,
        words,
        how_many,
        seed_value,
        person,
        style_w,
        request: gr.Request,
        progress=gr.Progress(),
    ):
        return generate_portraits(
            context, request, model_name, style_name, words, how_many, seed_value, person, style_w, progress
        )

    styles.select(pick, None, style)
    refresh.click(models, None, model, api_name="models")
    model.focus(models, None, model)
    run.click(
        handler,
        [model, style, prompt, count, seed, person_weight, style_weight],
        [gallery, summary, results],
        concurrency_limit=1,
        concurrency_id="generation",
        api_name="generate",
    )
