"""DLME (Zang et al., "DLME: Deep Local-flatness Manifold Embedding", ECCV 2022): the method is product
code, ``facechain.mapping.dlme`` (the Map tab draws with it); its experiment against the kernel baseline
and t-SNE is ``experiment`` here."""

__all__: list[str] = []
