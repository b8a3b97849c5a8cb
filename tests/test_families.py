"""Model families (diffusion/families.py): read from the model itself (a diffusers folder, a single-file
checkpoint's tensor names, a LoRA's keys and shapes), and what is made for another family is refused by
name: a style LoRA, an LCM-LoRA, a base model the trainer does not train yet, a single-file checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from facechain.diffusion.families import (
    FAMILIES,
    UnknownFamily,
    checkpoint_family,
    folder_family,
    lora_family,
)
from facechain.diffusion.tiny import ensure_tiny_model
from facechain.portrait import TrainConfig, train
from facechain.portrait.generation.generate import generate
from facechain.portrait.generation.request import GenerationRequest
from tests.test_generate import make_dataset, model, settings  # noqa: F401  (module fixtures)


def tensors(path: Path, shapes: dict[str, tuple[int, ...]]) -> Path:
    save_file({name: torch.zeros(shape) for name, shape in shapes.items()}, str(path))
    return path


def model_folder(root: Path, name: str, index: str | None = None, **configs: dict) -> Path:
    folder = root / name
    folder.mkdir()
    if index:
        (folder / "model_index.json").write_text(json.dumps({"_class_name": index}))
    for sub, config in configs.items():
        (folder / sub).mkdir()
        (folder / sub / "config.json").write_text(json.dumps(config))
    return folder


def test_folders_by_their_pipeline_or_denoiser(tmp_path, settings):  # noqa: F811
    assert folder_family(ensure_tiny_model(settings.home / "tiny-sd")).name == "sd15"
    assert folder_family(model_folder(tmp_path, "xl", "StableDiffusionXLPipeline")).name == "sdxl"
    assert folder_family(model_folder(tmp_path, "flux", "FluxPipeline")).name == "flux1"
    unet_only = model_folder(tmp_path, "unet-only", unet={"cross_attention_dim": 2048})
    assert folder_family(unet_only).name == "sdxl"
    transformer = model_folder(tmp_path, "t", transformer={"_class_name": "FluxTransformer2DModel"})
    assert folder_family(transformer).name == "flux1"
    with pytest.raises(UnknownFamily, match="SD 2.x .cross-attention width 1024."):
        folder_family(model_folder(tmp_path, "sd2", unet={"cross_attention_dim": 1024}))
    sd21 = model_folder(tmp_path, "sd21", "StableDiffusionPipeline", unet={"cross_attention_dim": 1024})
    with pytest.raises(UnknownFamily, match="SD 2.x"):  # SD 2.x ships as a StableDiffusionPipeline too
        folder_family(sd21)
    with pytest.raises(UnknownFamily, match="not a model folder of a family facechain knows"):
        folder_family(model_folder(tmp_path, "other", "KandinskyPipeline"))


def test_single_file_checkpoints_by_their_tensor_names(tmp_path):
    cases = {
        "sd15.safetensors": ("cond_stage_model.transformer.text_model.embeddings.token_embedding.weight", "sd15"),
        "xl.safetensors": ("conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight", "sdxl"),
        "flux.safetensors": ("model.diffusion_model.double_blocks.0.img_attn.qkv.weight", "flux1"),
    }
    for name, (key, family) in cases.items():
        path = tensors(tmp_path / name, {"model.diffusion_model.input_blocks.0.0.weight": (1,), key: (1,)})
        assert checkpoint_family(path).name == family
    sd2 = tensors(tmp_path / "sd2.safetensors", {"cond_stage_model.model.transformer.resblocks.0.ln_1.weight": (1,)})
    with pytest.raises(UnknownFamily, match="SD 2.x checkpoint"):
        checkpoint_family(sd2)
    (tmp_path / "text.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(UnknownFamily, match="not a safetensors file"):
        checkpoint_family(tmp_path / "text.safetensors")


def test_loras_by_their_keys_and_cross_attention_width(tmp_path, model):  # noqa: F811
    attn2 = "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k"
    kohya = "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k"
    cases = {
        "sd15.safetensors": ({f"{attn2}.lora_A.weight": (4, 768), f"{attn2}.lora_B.weight": (320, 4)}, "sd15"),
        "xl.safetensors": ({f"{attn2}.lora.down.weight": (4, 2048)}, "sdxl"),
        "xl-kohya.safetensors": ({f"{kohya}.lora_down.weight": (4, 2048), f"{kohya}.alpha": ()}, "sdxl"),
        "flux.safetensors": ({"transformer.transformer_blocks.0.attn.to_q.lora_A.weight": (4, 3072)}, "flux1"),
        "flux-kohya.safetensors": ({"lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight": (4, 3072)}, "flux1"),
        "te2.safetensors": (
            {"lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight": (4, 1280)},
            "sdxl",
        ),
    }
    for name, (shapes, family) in cases.items():
        assert lora_family(tensors(tmp_path / name, shapes)).name == family, name
    te_only = tensors(
        tmp_path / "te.safetensors", {"lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight": (4, 768)}
    )
    assert lora_family(te_only) is None  # nothing in it tells SD 1.x from SDXL's first encoder
    assert lora_family(model / "pytorch_lora_weights.safetensors").name == "sd15"  # the tiny model's own: 32 wide


def test_a_style_or_lcm_lora_of_another_family_is_refused_by_name(tmp_path, model, settings):  # noqa: F811
    attn2 = "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k"
    xl = tensors(
        tmp_path / "xl-style.safetensors", {f"{attn2}.lora_A.weight": (4, 2048), f"{attn2}.lora_B.weight": (640, 4)}
    )
    flux = tensors(
        tmp_path / "flux-lcm.safetensors",
        {"transformer.single_transformer_blocks.0.attn.to_q.lora_A.weight": (4, 3072)},
    )
    with pytest.raises(
        UnknownFamily, match="the style LoRA xl-style.safetensors is made for SDXL and this model is SD 1.x"
    ):
        generate(GenerationRequest(model=model, count=1, steps=2, style_lora=str(xl), detail=False), settings)
    with pytest.raises(UnknownFamily, match="the LCM-LoRA flux-lcm.safetensors is made for FLUX.1"):
        generate(
            GenerationRequest(model=model, count=1, steps=2, scheduler="lcm", lcm_lora=str(flux), detail=False),
            settings,
        )


def test_a_single_file_checkpoint_is_converted_once_by_its_family(tmp_path, settings, monkeypatch):  # noqa: F811
    """diffusers' own ``from_single_file`` does the conversion (it needs the original model's configs from
    the hub, which this machine cannot reach, so it is replaced by the tiny SDXL model here); what is
    checked is facechain's part: the family picked from the file, its precision, the folder kept and
    reused until the file changes, and the message when diffusers cannot convert."""
    import diffusers

    from facechain.diffusion.base_model import BaseModelUnavailable, resolve_base_model
    from facechain.diffusion.tiny import build_tiny_sdxl_pipeline

    single = tmp_path / "realistic-xl.safetensors"
    save_file({"conditioner.embedders.0.transformer.x": torch.zeros(2, dtype=torch.float16)}, str(single))
    calls = []

    def from_single_file(path, torch_dtype):
        calls.append((Path(path).name, torch_dtype))
        return build_tiny_sdxl_pipeline()

    monkeypatch.setattr(diffusers.StableDiffusionXLPipeline, "from_single_file", staticmethod(from_single_file))
    folder = resolve_base_model(str(single), settings)
    assert folder_family(folder).name == "sdxl" and folder.parent == settings.home / "converted"
    assert resolve_base_model(str(single), settings) == folder and calls == [
        ("realistic-xl.safetensors", torch.float16)
    ]
    save_file({"conditioner.embedders.0.transformer.x": torch.ones(2, dtype=torch.float16)}, str(single))
    assert resolve_base_model(str(single), settings) != folder and len(calls) == 2  # a changed file: again

    def unreachable(path, torch_dtype):
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the config files")

    monkeypatch.setattr(diffusers.StableDiffusionXLPipeline, "from_single_file", staticmethod(unreachable))
    save_file({"conditioner.embedders.0.transformer.x": torch.zeros(3, dtype=torch.float16)}, str(single))
    with pytest.raises(BaseModelUnavailable, match="single-file SDXL checkpoint, and diffusers could not convert it"):
        train(
            TrainConfig(dataset=make_dataset(tmp_path / "ds", "sks"), out=tmp_path / "m", base_model=str(single)),
            settings,
        )


def test_every_family_names_its_architecture_and_pipeline():
    import diffusers

    for family in FAMILIES.values():
        assert family.architecture.family == family.name
        assert hasattr(diffusers, family.pipeline)
