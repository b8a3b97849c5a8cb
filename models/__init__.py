"""torch modules saved and loaded with diffusers' ``ModelMixin``/``ConfigMixin``: the HumanMAC motion
denoiser (``humanmac``) and the DCT its tokens live in (``dct``). Nothing here imports ``facechain``."""

__all__: list[str] = []  # a namespace of modules: import them by name
