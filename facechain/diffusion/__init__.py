"""Stable Diffusion components: the base model resolver and the tiny offline model."""
