"""torch modules saved and loaded with diffusers' ``ModelMixin``/``ConfigMixin``: the HumanMAC motion
denoiser and recognition heads. They arrive with the motion and lab work."""
