"""Stable Diffusion components: the base model resolver and the tiny offline model."""

__all__: list[str] = []  # a namespace of modules: import them by name
