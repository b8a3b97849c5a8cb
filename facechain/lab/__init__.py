"""Recognition and robustness methods, one module each, each citing its paper.

The pieces the product uses are product modules that the lab imports (``portrait.dataset.diversity``,
``facechain.mapping``, ``faces.quality_score``), never the reverse. ``digit_world`` is the small world
(digits with measurable attributes, and a judge) in which SuDe's claim is tested.
"""

__all__: list[str] = []  # a namespace of modules: import them by name
