"""Recognition and robustness methods, one module each, each citing its paper.

``infogrowth`` (information gain and gain-driven selection) already drives photo curation.
"""
