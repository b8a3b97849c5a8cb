"""The shared harness of the lab: small datasets with planted corruptions (data), small models
(models), a training loop with pluggable steps (training), metrics, and paired-seed experiments with
a verdict on the paper's claim (experiment). Each method is a package in ``facechain.lab`` with its
experiment beside it (``<method>/experiment.py``)."""

__all__: list[str] = []  # a namespace of modules: import them by name
