"""One CenterFace network serves every input size, with the same faces as a network per size.

Why: a network per input size held 30-150 MB each; a pass over photos of a few shapes at the probe,
detection and reference sizes loaded a dozen of them (1.06 GB in one process, in each judging
worker), too much for the small home servers this runs on.
"""

from __future__ import annotations

import cv2
import numpy as np
from demo_photos import ASTRONAUT, needs_models

from organizer.judging.faces import FaceAnalyzer

SHAPES = ((960, 1280), (1280, 960), (720, 1280), (1280, 720))


def _faces(fa: FaceAnalyzer, image: np.ndarray) -> list:
    out = []
    for long_side in (320, 640, 960):
        for h, w in SHAPES:
            found = fa.detect(cv2.resize(image, (w, h)), long_side)
            out.append([(np.round(box, 3).tolist(), round(conf, 4)) for box, conf, _ in found])
    return out


@needs_models
def test_one_network_for_every_size_finds_the_same_faces_as_a_fresh_network_per_size():
    image = cv2.imread(str(ASTRONAUT))
    shared = FaceAnalyzer()
    loaded = []
    real_read = cv2.dnn.readNetFromONNX

    def counting_read(path: str) -> cv2.dnn.Net:
        loaded.append(path)
        return real_read(path)

    cv2.dnn.readNetFromONNX, before = counting_read, cv2.dnn.readNetFromONNX
    try:
        first = _faces(shared, image)
        again = _faces(shared, image)  # every size again, in the same order: one network re-shaped
    finally:
        cv2.dnn.readNetFromONNX = before
    assert len(loaded) == 1, f"{len(loaded)} CenterFace networks loaded for {3 * len(SHAPES)} input sizes"
    fresh = FaceAnalyzer()
    fresh._center_net = lambda size: real_read(str(fresh.folder / "centerface.onnx"))  # type: ignore[method-assign]
    assert first == again == _faces(fresh, image)
    assert sum(len(f) for f in first) >= 6  # the astronaut's face is found at most sizes
