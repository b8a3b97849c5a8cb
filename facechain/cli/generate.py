"""``facechain generate`` and ``facechain styles``: portraits of a trained digital twin, and the
style presets they can use."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..progress import TqdmProgress
from ..wording import plural
from .common import add_command, add_config_options, config_from_args


def add_generate_commands(commands) -> None:
    from ..portrait.generation.request import GenerationRequest

    generate = add_command(
        commands,
        "generate",
        "styled portraits of a trained digital twin, ranked by likeness",
        "Generate portraits with the model folder's person LoRA (+ a style preset or style LoRA), re-draw "
        "the subject's face at the model's native resolution (the face detail pass), judge each with the "
        "face engine (score = cosine similarity to the reference face; images with no face or several faces "
        "are flagged, never dropped) and write them best first with results.json. With --template PHOTO the "
        "person's face goes into that photo instead; with --controlnet a ControlNet steers the structure.",
    )
    add_config_options(generate, GenerationRequest, positional=("model",))
    generate.add_argument("--out", required=True, type=Path, help="folder for the PNGs and results.json")
    generate.set_defaults(run=run_generate)

    styles = add_command(
        commands,
        "styles",
        "list the style presets (built-in and yours)",
        "List the style presets: the built-in ones and yours (JSON files in FACECHAIN_HOME/styles), "
        "with the style LoRA and weight of each, and why any preset file was skipped.",
    )
    styles.set_defaults(run=run_styles)

    templates = add_command(
        commands,
        "templates",
        "list the template photos that ship with facechain",
        "List the shipped template photos for `facechain generate MODEL --template NAME` (any photo file "
        "works too): the person's face goes into the photo and everything else of it stays.",
    )
    templates.set_defaults(run=run_templates)


def run_generate(args: argparse.Namespace) -> int:
    from ..portrait.generation.request import GenerationRequest

    request = config_from_args(GenerationRequest, args)
    from ..portrait.generation.generate import check_output_folder, generate, write_generation  # torch: after the check

    check_output_folder(args.out)
    with TqdmProgress("generate", "sampling step") as bar:
        result = generate(request, progress=bar)
    write_generation(result, args.out)
    if result.notice:
        print(f"note: {result.notice}", file=sys.stderr)
    for rank, portrait in enumerate(result.portraits):
        score = "-" if portrait.score is None else f"{portrait.score:.3f}"
        likeness = "-" if portrait.likeness is None else f"{portrait.likeness:.0f}%"
        refined = "" if portrait.faces is None else f"  faces refined {sum(f.refined for f in portrait.faces)}"
        print(
            f"{rank:2d}  seed {portrait.seed:<11d} score {score:>6}  likeness {likeness:>5}{refined}  "
            f"{portrait.flag or 'ok'}"
        )
    if result.likeness_photos:
        print(
            f"likeness: 100% = as alike as your {result.likeness_photos} training photos are to each other "
            f"(median leave-one-out cosine {result.own_consistency:.3f})"
        )
    if result.all_flagged:
        print(
            "warning: no portrait passed the face checks (reasons above); they are kept so you can judge",
            file=sys.stderr,
        )
    print(f"written: {args.out}/results.json and {plural(len(result.portraits), 'PNG')}")
    return 0


def run_styles(args: argparse.Namespace) -> int:
    from ..portrait.generation.styles import load_styles

    catalogue = load_styles()
    for style in catalogue.styles.values():
        lora = f"  [LoRA {style.lora} x{style.style_weight}]" if style.lora else ""
        families = f"  (for {', '.join(style.families)} models)" if style.families else ""
        print(f"{style.name:<14} {style.title}{lora}{families}")
    for problem in catalogue.problems:
        print(f"skipped: {problem}", file=sys.stderr)
    return 0


def run_templates(args: argparse.Namespace) -> int:
    from ..portrait.generation.templates import SHIPPED_TEMPLATES

    for template in SHIPPED_TEMPLATES.values():
        print(f"{template.name:<12} {template.title}")
    return 0
