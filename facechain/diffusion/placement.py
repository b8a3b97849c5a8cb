"""Where a pipeline draws images: the CUDA GPU when there is one, in bfloat16 (float16 on GPUs without
it), else the CPU in float32. Training places its modules through accelerate; generation, class images
for prior preservation and the benchmarks load pipelines here.

Half precision halves the weights' memory (SDXL's UNet: 10.3 GB in float32, 5.1 GB in 16 bits; FLUX.1's
transformer 47.6 GB and 23.8 GB) and runs on the GPU's tensor cores. bfloat16 has float32's range, so
no layer overflows; SDXL's VAE, which overflows in float16, is upcast by diffusers' SDXL pipelines
themselves (its ``force_upcast``). Samples are the same on every device for a seed: the starting noise
comes from a CPU generator.
"""

from __future__ import annotations

import torch


def inference_placement() -> tuple[str, torch.dtype]:
    """(device, dtype) for loading a pipeline that only draws images."""
    if torch.cuda.is_available():
        return "cuda", torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return "cpu", torch.float32


def placed_pipeline(pipeline_class, model_dir, **options):
    """``pipeline_class.from_pretrained(model_dir, **options)`` in the inference dtype, on its device."""
    device, dtype = inference_placement()
    return pipeline_class.from_pretrained(model_dir, torch_dtype=dtype, **options).to(device)
