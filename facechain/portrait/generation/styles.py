"""Style presets: data files, not code. Each preset is a JSON file naming a style prompt and, for a
LoRA-based style, the style LoRA (a local path or a hub id) with its weight and the person weight
that suits it. The built-in presets (``facechain/styles/``) are prompt-only and need no download;
a user adds their own by dropping a JSON file into ``<FACECHAIN_HOME>/styles/``.

Fields: ``name`` (id: lowercase letters, digits, dashes), ``title``, ``prompt``, optional
``negative_prompt``, ``lora`` (path or ``owner/repo``), ``lora_file`` (file inside a hub repo or
folder, ``.safetensors``), ``style_weight`` (default 0.25, as FaceChain merges its style LoRAs),
``person_weight`` (default 0.9), ``thumbnail`` (an image beside the JSON file), ``photographic``
(default true: the photographic quality template applies; false for illustration and painting styles).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from pathlib import Path

from ...config import Settings
from ...errors import BadArguments

BUILT_IN = Path(__file__).resolve().parents[2] / "styles"
DEFAULT_STYLE = "natural"
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")


class StyleError(BadArguments):
    """A preset that cannot be used, with the file and the field at fault."""


@dataclass(frozen=True)
class Style:
    name: str
    title: str
    prompt: str
    negative_prompt: str = ""
    lora: str | None = None
    lora_file: str | None = None
    style_weight: float = 0.25
    person_weight: float = 0.9
    thumbnail: Path | None = None
    photographic: bool = True
    families: tuple[str, ...] = ()
    """The model families it suits (e.g. ["sdxl", "flux1"]: its LoRA's, or what its prompt is written
    for); empty: every family."""


def read_style(path: Path) -> Style:
    """One preset file, checked field by field."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StyleError(f"style preset {path}: not readable JSON ({error})") from None
    known = {f.name for f in fields(Style)}
    if not isinstance(data, dict) or set(data) - known or not {"name", "title", "prompt"} <= set(data):
        raise StyleError(f"style preset {path}: needs name, title and prompt, and only the fields {sorted(known)}")
    if not isinstance(data["name"], str) or not NAME.match(data["name"]):
        raise StyleError(f"style preset {path}: name {data['name']!r} must be lowercase letters, digits and dashes")
    if data.get("lora_file") and not str(data["lora_file"]).endswith(".safetensors"):
        raise StyleError(f"style preset {path}: lora_file must be a .safetensors file (pickled weights are not loaded)")
    for weight in ("style_weight", "person_weight"):
        if weight in data and not (isinstance(data[weight], (int, float)) and 0.0 <= data[weight] <= 2.0):
            raise StyleError(f"style preset {path}: {weight} must be a number between 0 and 2")
    if not isinstance(data.get("photographic", True), bool):
        raise StyleError(f"style preset {path}: photographic must be true or false")
    if data.get("thumbnail"):
        data["thumbnail"] = path.parent / Path(data["thumbnail"]).name
    if "families" in data:
        from ...diffusion.families import FAMILIES  # only for presets that name families: it loads torch

        families = data["families"]
        if not isinstance(families, list) or not families or not set(map(str, families)) <= FAMILIES.keys():
            raise StyleError(f"style preset {path}: families must be a list of {', '.join(FAMILIES)}")
        data["families"] = tuple(families)
    return Style(**data)


def style_folders(settings: Settings) -> list[Path]:
    """Where presets are read from, in order: the built-in ones, then the user's."""
    return [BUILT_IN, settings.home / "styles"]


@dataclass
class StyleCatalogue:
    """The presets by name, and the reasons any preset file was skipped."""

    styles: dict[str, Style]
    problems: list[str]

    def get(self, name: str) -> Style:
        if name not in self.styles:
            raise StyleError(f"unknown style {name!r}; available: {', '.join(sorted(self.styles))}")
        return self.styles[name]


def load_styles(settings: Settings | None = None) -> StyleCatalogue:
    """Built-in presets first, then the user's (a user preset may replace a built-in one of the same
    name). A broken user preset is skipped with its reason, never fatal for the others."""
    settings = settings or Settings.from_env()
    styles, problems = {}, []
    for folder in style_folders(settings):
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                style = read_style(path)
            except StyleError as error:
                problems.append(str(error))
                continue
            styles[style.name] = style
    return StyleCatalogue(styles, problems)
