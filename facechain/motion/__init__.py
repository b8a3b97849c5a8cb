"""Human motion prediction (HumanMAC, Chen et al., ICCV 2023, arXiv:2302.03665): skeletons, metrics
and a procedural motion generator, data files, training, evaluation and the CLI/tab scenario. The
denoiser (``models.humanmac``, its DCT in ``models.dct``) and the pipeline (``pipelines.humanmac``)
are building blocks beside them."""

__all__: list[str] = []  # a namespace of modules: import them by name
