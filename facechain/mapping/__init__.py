"""2-D maps of identity embeddings (the Map tab): DLME's network and loss (``dlme``, ``manifold``) and
the face map of a photo set or of generated portraits (``face_map``). The lab's DLME, EVNet and SAN
experiments build on ``manifold``; nothing here imports the lab."""

from .face_map import MIN_DLME_FACES, FaceMap, build_face_map

__all__ = ["FaceMap", "MIN_DLME_FACES", "build_face_map"]
