"""Portraits of a person: dataset preparation now; training and generation build on it."""

from .prepare import NoUsablePhotos, PhotoReport, PreparedDataset, prepare

__all__ = ["NoUsablePhotos", "PhotoReport", "PreparedDataset", "prepare"]
