"""Photos -> training set: examine each photo (``prepare``), choose a clean, varied set (``curate``,
``diversity``), and caption it with the trigger and a class phrase voted from the faces (``captions``)."""

from .prepare import NoUsablePhotos, OutputExists, PhotoReport, PreparedDataset, prepare

__all__ = ["NoUsablePhotos", "OutputExists", "PhotoReport", "PreparedDataset", "prepare"]
