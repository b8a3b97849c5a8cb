"""diffusers ``DiffusionPipeline`` subclasses: portrait generation and HumanMAC motion sampling.

Each pipeline is usable on its own (``from pipelines import ...``); they arrive with the generation
and motion work.
"""
