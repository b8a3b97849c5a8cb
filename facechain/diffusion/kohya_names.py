"""kohya (sd-scripts) names of LoRA modules, per model family: the layout A1111, ComfyUI, kohya's own
tools and diffusers' kohya loader read.

A kohya name is a prefix for the network (``lora_unet_`` for the denoiser, ``lora_te*_`` for a text
encoder) and the module's path in the network sd-scripts trains, dots as underscores. That network is:

- sd15: a UNet with diffusers' module names (sd-scripts' SD 1.x UNet copies them), so the path is
  diffusers' own: ``lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q``; the text
  encoder is ``lora_te_``.
- sdxl: the original (SGM) UNet. A block's layers and its down/up sampler count in one sequence of
  ``layers_per_block + 1`` (3) per block, the first input block being conv_in:
  ``down_blocks.B.attentions.L`` -> ``input_blocks.(1 + 3B + L).1``, ``mid_block.attentions.0`` ->
  ``middle_block.1``, ``up_blocks.B.attentions.L`` -> ``output_blocks.(3B + L).1``; inside an attention
  block the names are diffusers' (``lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q``). The
  text encoders are ``lora_te1_`` and ``lora_te2_``. Keys in diffusers' naming would load in diffusers
  too (checked), but SGM names are what sd-scripts itself writes for SDXL, so every tool reading kohya
  SDXL LoRAs expects them.
- flux1: Black Forest Labs' transformer: ``transformer_blocks.N`` is ``double_blocks_N`` and
  ``single_transformer_blocks.N`` is ``single_blocks_N``, where q, k and v are one fused layer
  (``img_attn_qkv``, ``txt_attn_qkv``) and a single block's q, k, v and MLP input projection one
  ``linear1``. A fused layer's LoRA holds its parts side by side (see ``KohyaModule``). The CLIP text
  encoder is ``lora_te1_``.

Text encoders are named from CLIP's ``text_model`` root, as kohya does.
"""

from __future__ import annotations

from dataclasses import dataclass

from .architectures import FLUX1_TRANSFORMER, SDXL_UNET, architecture

PREFIXES = {
    "sd15": {"unet": "lora_unet_", "text_encoder": "lora_te_"},
    "sdxl": {"unet": "lora_unet_", "text_encoder": "lora_te1_", "text_encoder_2": "lora_te2_"},
    "flux1": {"transformer": "lora_unet_", "text_encoder": "lora_te1_"},
}
BASE_MODEL_VERSIONS = {"sd15": "sd_v1", "sdxl": "sdxl_base_v1-0", "flux1": "flux1"}
"""sd-scripts' ``ss_base_model_version`` per family: A1111 tells SDXL LoRAs from SD 1.x ones by it."""

SGM_LAYERS = SDXL_UNET["layers_per_block"] + 1
FLUX1_WIDTH = FLUX1_TRANSFORMER["num_attention_heads"] * FLUX1_TRANSFORMER["attention_head_dim"]  # 3072
FLUX1_QKV = (FLUX1_WIDTH,) * 3
FLUX1_LINEAR1 = FLUX1_QKV + (4 * FLUX1_WIDTH,)  # q, k, v and the MLP input (diffusers' mlp_ratio 4): 12288
FLUX1_DOUBLE = {  # inside transformer_blocks.N: diffusers' module -> (kohya layer in double_blocks_N, part)
    "attn.to_q": ("img_attn_qkv", 0),
    "attn.to_k": ("img_attn_qkv", 1),
    "attn.to_v": ("img_attn_qkv", 2),
    "attn.to_out.0": ("img_attn_proj", 0),
    "ff.net.0.proj": ("img_mlp_0", 0),
    "ff.net.2": ("img_mlp_2", 0),
    "attn.add_q_proj": ("txt_attn_qkv", 0),
    "attn.add_k_proj": ("txt_attn_qkv", 1),
    "attn.add_v_proj": ("txt_attn_qkv", 2),
    "attn.to_add_out": ("txt_attn_proj", 0),
    "ff_context.net.0.proj": ("txt_mlp_0", 0),
    "ff_context.net.2": ("txt_mlp_2", 0),
}
FLUX1_SINGLE = {  # inside single_transformer_blocks.N -> (kohya layer in single_blocks_N, part)
    "attn.to_q": ("linear1", 0),
    "attn.to_k": ("linear1", 1),
    "attn.to_v": ("linear1", 2),
    "proj_mlp": ("linear1", 3),
}
FLUX1_BLOCKS = {
    "transformer_blocks": ("double_blocks", FLUX1_DOUBLE),
    "single_transformer_blocks": ("single_blocks", FLUX1_SINGLE),
}
FLUX1_FUSED = {"img_attn_qkv": FLUX1_QKV, "txt_attn_qkv": FLUX1_QKV, "linear1": FLUX1_LINEAR1}


@dataclass(frozen=True)
class KohyaModule:
    """Where one diffusers module's LoRA goes in a kohya file: the layer ``name``, and for a fused layer
    the module's ``part`` and the output ``widths`` of all its parts in order (``()`` when not fused).
    A fused layer's LoRA is the parts' downs stacked and their ups on the diagonal of one up matrix."""

    name: str
    part: int = 0
    widths: tuple[int, ...] = ()


def kohya_module(family: str, component: str, module: str) -> KohyaModule:
    """The kohya layer of ``module`` (a module path inside the pipeline's ``component``, e.g. "unet")."""
    prefixes = PREFIXES[architecture(family).family]  # architecture() names the families for an unknown one
    if component not in prefixes:
        raise ValueError(f"a {family} LoRA has no {component!r} part: kohya names {', '.join(prefixes)}")
    part, widths = 0, ()
    if component.startswith("text_encoder"):
        path = module if module.startswith("text_model.") else "text_model." + module
    elif family == "sdxl":
        path = sgm_path(module)
    elif family == "flux1":
        path, part, widths = bfl_path(module)
    else:
        path = module
    return KohyaModule(prefixes[component] + path.replace(".", "_"), part, widths)


def sgm_path(module: str) -> str:
    """SDXL: diffusers' UNet module path -> the SGM UNet's (attention blocks only: what LoRA adapts)."""
    side, _, rest = module.partition("_blocks.")
    block, _, rest = rest.partition(".attentions.")
    layer, _, inner = rest.partition(".")
    if side in ("down", "up") and block.isdigit() and layer.isdigit() and inner:
        index = SGM_LAYERS * int(block) + int(layer) + (side == "down")  # input_blocks.0 is conv_in
        return f"{'input' if side == 'down' else 'output'}_blocks.{index}.1.{inner}"
    if module.startswith("mid_block.attentions.0."):
        return "middle_block.1." + module.removeprefix("mid_block.attentions.0.")
    raise ValueError(
        f"no kohya (SGM) name for the SDXL UNet module {module}: only modules inside attention blocks are "
        "mapped; export LoRAs of other modules in diffusers' format"
    )


def bfl_path(module: str) -> tuple[str, int, tuple[int, ...]]:
    """FLUX.1: diffusers' transformer module path -> (BFL layer path, part, fused widths)."""
    blocks, _, rest = module.partition(".")
    index, _, inner = rest.partition(".")
    name, table = FLUX1_BLOCKS.get(blocks, ("", {}))
    if not index.isdigit() or inner not in table:
        covered = [f"{where}.N.{path}" for where, (_, paths) in FLUX1_BLOCKS.items() for path in paths]
        raise ValueError(
            f"no kohya name for the FLUX.1 module {module}: the kohya export covers {', '.join(covered)}; "
            "export LoRAs of other modules in diffusers' format"
        )
    layer, part = table[inner]
    return f"{name}.{index}.{layer}", part, FLUX1_FUSED.get(layer, ())
