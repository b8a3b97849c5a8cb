"""Human motion prediction (HumanMAC, Chen et al., ICCV 2023, arXiv:2302.03665): DCT utilities,
skeletons, metrics and a procedural motion generator; the denoiser and pipeline build on these."""
