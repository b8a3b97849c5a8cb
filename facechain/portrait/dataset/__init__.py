"""Photos -> training set: examine each photo (``prepare``), choose a clean, varied set (``curate``,
``diversity``), and caption it with the trigger and a class phrase voted from the faces (``captions``)."""

from .prepare import NoUsablePhotos, OutputExists, PhotoReport, PreparedDataset

# the prepare() function is facechain.portrait.prepare; here the name stays the module's
__all__ = ["NoUsablePhotos", "OutputExists", "PhotoReport", "PreparedDataset"]
