"""Recognition and robustness methods, one module each, each citing its paper.

``infogrowth`` (information gain and gain-driven selection) already drives photo curation;
``digit_world`` is the small world (digits with measurable attributes, and a judge) in which SuDe's
claim is tested.
"""
