"""The real SD 1.5, SDXL and FLUX.1 architectures, built from their published configs on the meta device
(no weights, no memory): parameter counts, LoRA targets, and the kohya export read back by diffusers'
own kohya loaders onto the very modules (and values) it came from."""

from __future__ import annotations

import inspect

import pytest
import torch

from facechain.diffusion.architectures import (
    ARCHITECTURES,
    FLUX1_LORA_TARGETS,
    TEXT_LORA_TARGETS,
    UNET_LORA_TARGETS,
    build_on_meta,
)
from facechain.diffusion.kohya_names import kohya_module
from facechain.portrait.training.kohya import kohya_state_dict

FAMILIES = list(ARCHITECTURES)
PIPELINES = {"sd15": "StableDiffusionPipeline", "sdxl": "StableDiffusionXLPipeline", "flux1": "FluxPipeline"}
RANK, ALPHA = 4, 8.0
CLIP_L = dict.fromkeys(TEXT_LORA_TARGETS, 12)  # one per layer
MATCHES = {  # modules each LoRA target matches, per pipeline attribute
    "sd15": {"unet": dict.fromkeys(UNET_LORA_TARGETS, 32), "text_encoder": CLIP_L},  # 16 transformer blocks x 2
    "sdxl": {
        "unet": dict.fromkeys(UNET_LORA_TARGETS, 140),  # 70 transformer blocks (4 + 20 down, 10 mid, 30 + 6 up) x 2
        "text_encoder": CLIP_L,
        "text_encoder_2": dict.fromkeys(TEXT_LORA_TARGETS, 32),
    },
    "flux1": {  # q, k, v in 19 joint and 38 single blocks; the rest in the joint blocks only
        "transformer": {**dict.fromkeys(FLUX1_LORA_TARGETS[:3], 57), **dict.fromkeys(FLUX1_LORA_TARGETS[3:], 19)},
        "text_encoder": CLIP_L,
    },
}


def matches(module, targets) -> dict[str, list[str]]:
    """PEFT's rule: a module whose name is the target or ends with "." + target."""
    names = [name for name, _ in module.named_modules()]
    return {target: [name for name in names if name == target or name.endswith("." + target)] for target in targets}


def lora_layers(module) -> dict[str, torch.nn.Module]:
    from peft.tuners.tuners_utils import BaseTunerLayer

    return {name: layer for name, layer in module.named_modules() if isinstance(layer, BaseTunerLayer)}


@pytest.mark.parametrize("family", FAMILIES)
def test_the_denoiser_has_the_published_parameter_count(family):
    architecture = ARCHITECTURES[family]
    denoiser = build_on_meta(architecture.denoiser)
    assert {p.device.type for p in denoiser.parameters()} == {"meta"}
    assert sum(p.numel() for p in denoiser.parameters()) == architecture.denoiser_parameters


@pytest.mark.parametrize("family", FAMILIES)
def test_every_lora_target_matches_the_stated_modules_as_peft_matches_them(family):
    from peft import LoraConfig, inject_adapter_in_model

    for component, model in ARCHITECTURES[family].lora_models().items():
        network = build_on_meta(model)
        found = matches(network, model.lora_targets)
        assert {target: len(names) for target, names in found.items()} == MATCHES[family][component], component
        inject_adapter_in_model(LoraConfig(r=RANK, target_modules=list(model.lora_targets)), network)
        assert set(lora_layers(network)) == {name for names in found.values() for name in names}, component


@pytest.mark.parametrize("family", FAMILIES)
def test_the_kohya_export_loads_in_diffusers_onto_the_same_modules_with_the_same_updates(family):
    """A rank-4 LoRA on every target, exported to kohya and loaded by the family's pipeline
    (``load_lora_weights``, which runs diffusers' kohya conversion). The denoiser's Linear weights are
    zero-stride CPU views (no memory), so PEFT builds its LoRA layers on the CPU and each one's update
    alpha / r * B @ A can be compared with the original's on a probe vector: a module swap of equal shapes
    shows. The text encoders stay fully on meta (transformers loads their adapters there), so for them
    where the LoRA lands is checked."""
    import diffusers

    architecture = ARCHITECTURES[family]
    networks = {component: build_on_meta(model) for component, model in architecture.lora_models().items()}
    for layer in networks[architecture.denoiser_name].modules():
        if isinstance(layer, torch.nn.Linear):
            layer.weight = torch.nn.Parameter(
                torch.zeros(()).expand(layer.out_features, layer.in_features), requires_grad=False
            )
    generator = torch.Generator().manual_seed(0)
    original: dict[str, dict[str, tuple[torch.Tensor, torch.Tensor]]] = {}
    for component, model in architecture.lora_models().items():
        for names in matches(networks[component], model.lora_targets).values():
            for name in names:
                linear = networks[component].get_submodule(name)
                original.setdefault(component, {})[name] = (
                    torch.randn(RANK, linear.in_features, generator=generator),
                    torch.randn(linear.out_features, RANK, generator=generator),
                )
    diffusers_state = {
        f"{component}.{name}.lora_{side}.weight": matrix
        for component, pairs in original.items()
        for name, pair in pairs.items()
        for side, matrix in zip("AB", pair)
    }
    kohya = kohya_state_dict(diffusers_state, dict.fromkeys(networks, ALPHA), family)

    pipeline_class = getattr(diffusers, PIPELINES[family])
    required = [p.name for p in inspect.signature(pipeline_class).parameters.values() if p.default is p.empty]
    pipeline = pipeline_class(**{name: networks.get(name) for name in required})
    pipeline.load_lora_weights(kohya, adapter_name="round-trip")

    for component, pairs in original.items():
        landed = lora_layers(networks[component])
        extra = set(landed) - set(pairs)
        if family == "flux1" and component == "transformer":  # kohya's linear1 also holds the MLP input
            assert extra == {f"single_transformer_blocks.{i}.proj_mlp" for i in range(38)}
        else:
            assert not extra, component
        assert set(pairs) <= set(landed), component
        if component != architecture.denoiser_name:
            continue
        for name, layer in landed.items():
            down, up = layer.lora_A["round-trip"].weight, layer.lora_B["round-trip"].weight
            probe = torch.randn(down.shape[1], generator=generator)
            update = layer.scaling["round-trip"] * (up @ (down @ probe))
            expected = (
                ALPHA / RANK * (pairs[name][1] @ (pairs[name][0] @ probe))
                if name in pairs
                else torch.zeros_like(update)
            )
            torch.testing.assert_close(update, expected, rtol=1e-4, atol=1e-4, msg=f"{family} {name}")


@pytest.mark.parametrize(
    "family, component, module, name",
    [
        (
            "sd15",
            "unet",
            "up_blocks.3.attentions.2.transformer_blocks.0.attn2.to_out.0",
            "lora_unet_up_blocks_3_attentions_2_transformer_blocks_0_attn2_to_out_0",
        ),
        (
            "sd15",
            "text_encoder",
            "text_model.encoder.layers.11.self_attn.v_proj",
            "lora_te_text_model_encoder_layers_11_self_attn_v_proj",
        ),
        (
            "sdxl",
            "unet",
            "down_blocks.1.attentions.0.transformer_blocks.1.attn1.to_q",
            "lora_unet_input_blocks_4_1_transformer_blocks_1_attn1_to_q",
        ),
        (
            "sdxl",
            "unet",
            "down_blocks.2.attentions.1.transformer_blocks.9.attn2.to_k",
            "lora_unet_input_blocks_8_1_transformer_blocks_9_attn2_to_k",
        ),
        (
            "sdxl",
            "unet",
            "mid_block.attentions.0.transformer_blocks.9.attn1.to_v",
            "lora_unet_middle_block_1_transformer_blocks_9_attn1_to_v",
        ),
        (
            "sdxl",
            "unet",
            "up_blocks.1.attentions.2.transformer_blocks.1.attn2.to_out.0",
            "lora_unet_output_blocks_5_1_transformer_blocks_1_attn2_to_out_0",
        ),
        (
            "sdxl",
            "text_encoder_2",
            "text_model.encoder.layers.31.self_attn.out_proj",
            "lora_te2_text_model_encoder_layers_31_self_attn_out_proj",
        ),
        ("flux1", "transformer", "transformer_blocks.18.attn.add_v_proj", "lora_unet_double_blocks_18_txt_attn_qkv"),
        ("flux1", "transformer", "single_transformer_blocks.37.attn.to_k", "lora_unet_single_blocks_37_linear1"),
        (
            "flux1",
            "text_encoder",
            "text_model.encoder.layers.0.self_attn.q_proj",
            "lora_te1_text_model_encoder_layers_0_self_attn_q_proj",
        ),
    ],
)
def test_kohya_names_are_those_of_the_network_sd_scripts_trains(family, component, module, name):
    assert kohya_module(family, component, module).name == name


@pytest.mark.parametrize(
    "family, component, module, message",
    [
        ("sd3", "unet", "conv_in", "unknown model family 'sd3': choose one of sd15, sdxl, flux1"),
        ("sd15", "text_encoder_2", "text_model.encoder.layers.0.self_attn.q_proj", "kohya names unet, text_encoder"),
        ("sdxl", "unet", "down_blocks.0.resnets.0.conv1", "only modules inside attention blocks are mapped"),
        ("flux1", "transformer", "x_embedder", "the kohya export covers transformer_blocks.N.attn.to_q"),
    ],
)
def test_a_module_without_a_kohya_name_is_refused_with_what_there_is(family, component, module, message):
    with pytest.raises(ValueError, match=message):
        kohya_module(family, component, module)
