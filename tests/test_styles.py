"""Style presets are data: built-in ones load, a user's preset adds or replaces one, and a broken
preset is reported by file without hiding the others."""

from __future__ import annotations

import json

import pytest

from facechain.config import Settings
from facechain.portrait.generation.styles import StyleError, load_styles, read_style


def test_built_in_presets_are_prompt_only_and_complete(tmp_path):
    catalogue = load_styles(Settings(home=tmp_path))
    assert len(catalogue.styles) >= 10 and not catalogue.problems
    assert all(style.prompt and style.lora is None for style in catalogue.styles.values())
    assert "natural" in catalogue.styles


def test_user_presets_add_replace_and_fail_alone(tmp_path):
    folder = tmp_path / "styles"
    folder.mkdir()
    (folder / "mine.json").write_text(
        json.dumps(
            {
                "name": "mine",
                "title": "My LoRA style",
                "prompt": "pixel art",
                "lora": "someone/pixel-lora",
                "lora_file": "pixel.safetensors",
                "style_weight": 0.6,
                "thumbnail": "../../etc/mine.png",
            }
        )
    )
    (folder / "natural.json").write_text(json.dumps({"name": "natural", "title": "Mine", "prompt": "my light"}))
    (folder / "broken.json").write_text("{not json")
    (folder / "pickle.json").write_text(
        json.dumps({"name": "pickle", "title": "P", "prompt": "p", "lora_file": "x.bin"})
    )
    catalogue = load_styles(Settings(home=tmp_path))
    mine = catalogue.get("mine")
    assert (mine.lora, mine.style_weight, mine.person_weight) == ("someone/pixel-lora", 0.6, 0.9)
    assert mine.thumbnail == folder / "mine.png"  # a thumbnail is looked up beside the preset only
    assert catalogue.get("natural").prompt == "my light"
    assert len(catalogue.problems) == 2 and any("broken.json" in p for p in catalogue.problems)
    assert any(".safetensors" in p for p in catalogue.problems)
    with pytest.raises(StyleError, match="unknown style 'pickle'"):
        catalogue.get("pickle")


@pytest.mark.parametrize(
    "data, message",
    [
        ({"name": "Bad Name", "title": "t", "prompt": "p"}, "lowercase"),
        ({"name": "ok", "title": "t"}, "needs name, title and prompt"),
        ({"name": "ok", "title": "t", "prompt": "p", "colour": "red"}, "only the fields"),
        ({"name": "ok", "title": "t", "prompt": "p", "style_weight": 7}, "between 0 and 2"),
    ],
)
def test_bad_presets_name_the_fault(tmp_path, data, message):
    path = tmp_path / "preset.json"
    path.write_text(json.dumps(data))
    with pytest.raises(StyleError, match=message):
        read_style(path)


def test_a_preset_may_name_the_families_it_suits(tmp_path):
    (tmp_path / "xl.json").write_text(json.dumps({"name": "xl", "title": "XL", "prompt": "p", "families": ["sdxl"]}))
    assert read_style(tmp_path / "xl.json").families == ("sdxl",)
    for wrong in (["sd3"], "sdxl", []):
        (tmp_path / "bad.json").write_text(json.dumps({"name": "bad", "title": "B", "prompt": "p", "families": wrong}))
        with pytest.raises(StyleError, match="families must be a list of sd15, sdxl, flux1"):
            read_style(tmp_path / "bad.json")
