"""Faces with OpenCV DNN, offline: where they are, eyes open, smile, and how sharp each face is.

Models (see organizer.model_store; measured facts in the project notes):
- CenterFace (ONNX) finds the faces, including small faces in group shots where BlazeFace misses
  them; it also gives five landmarks used to level the face. One network is kept per input size,
  because OpenCV 4.x returns garbage from a CenterFace net whose input size changed.
- FaceMesh (TFLite, 468 points) on a levelled 192 px face crop gives mouth corners and eye corners.
- The iris model (TFLite) on 64 px eye crops gives the eyelid contour: eye height / eye width
  separates open from closed eyes where FaceMesh's own eye points do not.
On OpenCV 5 multi-output TFLite models must use the classic engine (ENGINE_CLASSIC).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from organizer.judging.larger import LargerFrame
from organizer.model_store import MODEL_FILES, is_present, models_dir

log = logging.getLogger(__name__)

#: CenterFace input (long side). 480 found the same faces at about two thirds of the time, but its
#: coarser boxes move the mouth landmarks enough to flip the demo burst's keeper under the
#: face-exposure scoring (tests/test_scoring.py); 640 keeps the landmarks where people judge them.
DETECT_LONG_SIDE = 640
DETECT_THRESHOLD = 0.5
#: "Is anyone there?" before the full detection (organizer.judging.scoring): measured on the labelled face
#: sets and the demo library, 320 px at 0.3 flagged every frame the full detection finds faces in
#: (at 0.5 it missed 2 of 77) and no frame without.
PROBE_LONG_SIDE = 320
PROBE_THRESHOLD = 0.3
NMS_THRESHOLD = 0.3
MIN_FACE_FRACTION = 0.02  # faces smaller than 2% of the long side say nothing about the shot
MESH_SIZE = 192
#: How far from a face's centre judging it reads pixels, in long sides of its box: the FaceMesh
#: crop is 1.5 box sides square (_square_crop), turned by any angle, so its corners reach
#: 0.75 * sqrt(2) = 1.061 sides; the eye crops and the sharpness patch lie inside it.
CROP_REACH = 1.07
EYE_SIZE = 64
SHARP_SIZE = 128
#: A face whose box is under this many pixels is judged on the larger decode when there is one:
#: its levelled crop (1.5x the box, MESH_SIZE px) and its sharpness patch (0.8x the box, up to
#: SHARP_SIZE px) would otherwise be enlarged, and an enlarged face hides both blinks and blur.
DETAIL_FACE = 160
#: The group's reference frame (its sharpest) is searched at this long side: faces of 70-100 px in a
#: 1600 px group shot are 30-40 px at DETECT_LONG_SIDE, where CenterFace misses about half of them
#: (the real-people tune set: 1 of 3 people found in a burst of five). Chosen on that tune half:
#: best-pick 0.92 at 640, 1.00 at 960 and 1280 (with the crop search below); the smaller wins.
#: The other frames are searched at DETECT_LONG_SIDE, and each face seen in one frame but not at its
#: place in another is looked for there on a crop (FaceAnalyzer.find_at), at the size it needs.
REFERENCE_LONG_SIDE = 960
#: A face looked for on a crop is shown to the detector this wide (the crop is three faces wide).
CROP_FACE = 96
CROP_THRESHOLD = 0.3
#: With FACES_WITHOUT_DETECTOR (organizer.judging.scoring) a face the source found (Immich's
#: machine learning) is judged at its own box, without the detector, when the box is at least this
#: many pixels wide in the analysed image: FaceMesh runs once on a square crop 1.5x the box
#: (unlevelled) for its face flag and its eye points, whose line gives the roll the judged crop is
#: levelled by. A smaller box gives FaceMesh too few pixels to place eyes on; it is confirmed on a
#: crop (find_at) as before. Not reached on the labelled sets (their smallest known face is 36 px).
KNOWN_MIN_SIDE = 12
#: FaceMesh's face flag (a probability) under which the source's box is not trusted as it stands:
#: the face is then looked for on a crop (find_at) as before, and dropped if not found there. The
#: model's own even odds; on the labelled sets every known face scored 0.52 or more (99 % over 0.99).
KNOWN_MESH_CONFIDENCE = 0.5
#: Lid gap / eye width under which eyes are closed (notes: closed 0.04-0.08). Defined here, where the
#: eyes are measured, because the iris stage stops at it (FaceAnalyzer._judge_face); the scoring
#: (organizer.judging.scoring.eyes_open_share) imports it: one threshold for both.
BLINK_ABSOLUTE = 0.12

_warned = False


#: What judging one face gives: eye openness, smile, open mouth, sharpness, FaceMesh points.
Judgement = tuple[float, float, float, float, np.ndarray]


def _square_crop(image: np.ndarray, box: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """The MESH_SIZE square FaceMesh reads: 1.5x ``box`` (x1, y1, x2, y2) around its centre, turned
    by ``angle`` degrees, and the affine map from ``image`` onto it. One place for both ways a face
    reaches FaceMesh (levelled by the detector's eyes, or at a known box), so they crop alike."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    size = max(box[2] - box[0], box[3] - box[1]) * 1.5
    m = cv2.getRotationMatrix2D((float(cx), float(cy)), float(angle), MESH_SIZE / size)
    m[0, 2] += MESH_SIZE / 2 - cx
    m[1, 2] += MESH_SIZE / 2 - cy
    crop = cv2.warpAffine(image, m, (MESH_SIZE, MESH_SIZE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    return crop, m


@dataclass
class Face:
    """A face found in a frame: where it is at once, how it looks when first asked.

    Finding a face (its box) and judging it (FaceMesh, one or two iris runs, sharpness, for a small
    face the larger decode of its photo) are separate: the best-shot stage matches faces into
    people by their boxes alone, and only a person's faces are ever judged (a passer-by's or a
    stray detection's eyes, smile and sharpness decide nothing). ``judge`` gives the judgement
    the first time eye_openness, smile, mouth_open, sharpness or mesh is read; it is the same
    judgement, computed later or not at all.
    """

    box: tuple[float, float, float, float]  # x, y, w, h in the analysed image's pixels
    confidence: float
    area: float  # face area / image area
    judge: Callable[[], Judgement] | None = field(default=None, repr=False, compare=False)
    name: str | None = None  # the person's name where the source knows it (Immich's people)
    _judged: Judgement | None = field(default=None, repr=False, compare=False)

    @property
    def centre(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2, y + h / 2

    @property
    def judged(self) -> bool:
        """Whether this face has been judged (its eyes, mouth and sharpness measured)."""
        return self._judged is not None

    def _judgement(self) -> Judgement:
        if self._judged is None:
            assert self.judge is not None, "a face without a judgement must come with its judge"
            self._judged, self.judge = self.judge(), None  # the closure holds the frame: let it go
        return self._judged

    @property
    def eye_openness(self) -> float:
        """Smaller eye: lid height / eye width (open ≈ 0.3+, closed ≈ 0.1). Where the first eye
        reads under BLINK_ABSOLUTE, that eye's (the face is closed whichever is smaller)."""
        return self._judgement()[0]

    @property
    def smile(self) -> float:
        """Mouth-corner lift above the upper lip / outer-eye distance (smile > 0, neutral ≤ 0)."""
        return self._judgement()[1]

    @property
    def mouth_open(self) -> float:
        """Inner-lip gap / outer-eye distance (talking, yawning: 0.1+)."""
        return self._judgement()[2]

    @property
    def sharpness(self) -> float:
        """Laplacian variance / intensity variance of the face box (at most SHARP_SIZE px)."""
        return self._judgement()[3]

    @property
    def mesh(self) -> np.ndarray:
        """The 468 FaceMesh points, in the analysed image's pixels."""
        return self._judgement()[4]


#: FaceMesh contour of each eye (upper and lower lid), used to paint and to locate the eyes.
LEFT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
RIGHT_EYE = (362, 382, 381, 380, 374, 373, 390, 249, 263, 466, 388, 387, 386, 385, 384, 398)


def _read_tflite(path: Path) -> cv2.dnn.Net:
    engine = getattr(cv2.dnn, "ENGINE_CLASSIC", None)
    if engine is not None:
        return cv2.dnn.readNetFromTFLite(str(path), engine=engine)
    return cv2.dnn.readNetFromTFLite(str(path))


class FaceAnalyzer:
    """Loads the models once; ``analyze`` is safe to call from one thread at a time per instance."""

    def __init__(self, folder: Path | None = None) -> None:
        global _warned
        self.folder = Path(folder) if folder else models_dir()
        missing = [m.name for m in MODEL_FILES if not is_present(m, self.folder)]
        self.available = not missing
        self._lock = threading.RLock()  # a face is judged under it, found under it or later
        self._centerface: cv2.dnn.Net | None = None  # one network for every input size (_center_net)
        if not self.available:
            if not _warned:
                log.warning("Face models missing in %s (%s): best shots are picked without faces. "
                            "Run `make setup` to fetch them.", self.folder, ", ".join(missing))
                _warned = True
            return
        self._mesh = _read_tflite(self.folder / "face_landmark.tflite")
        self._iris = _read_tflite(self.folder / "iris_landmark.tflite")

    # ------------------------------------------------------------------ detection
    def _center_net(self, size: tuple[int, int]) -> cv2.dnn.Net:
        """CenterFace, one network whatever the input ``size``.

        Why one: a network per input size held 30-150 MB each, and a pass over photos of a few
        shapes at the probe, detection and reference sizes loaded a dozen (1.06 GB in one process,
        per judging worker). OpenCV re-shapes one network to each input with the same output
        (tests/test_one_face_network.py) and less CPU than loading another (44 ms each).
        """
        if self._centerface is None:
            self._centerface = cv2.dnn.readNetFromONNX(str(self.folder / "centerface.onnx"))
        return self._centerface

    def probe(self, image: np.ndarray) -> bool:
        """Whether ``image`` may show a face: CenterFace at PROBE_LONG_SIDE (a quarter of the
        pixels of a full detection) with a lower threshold. It finds faces of about 4-5 % of the
        long side and up; the full detection finds them from about 2.5 %."""
        if not self.available:
            return False
        with self._lock:
            h, w = image.shape[:2]
            return any(max(box[2] - box[0], box[3] - box[1]) >= MIN_FACE_FRACTION * max(h, w)
                       for box, _, _ in self.detect(image, PROBE_LONG_SIDE, PROBE_THRESHOLD))

    def detect(self, image: np.ndarray, long_side: int = DETECT_LONG_SIDE,
               threshold: float = DETECT_THRESHOLD) -> list[tuple[np.ndarray, float, np.ndarray]]:
        """Faces as (box x1,y1,x2,y2, confidence, 5 landmarks) in image pixels."""
        h, w = image.shape[:2]
        scale = long_side / max(h, w)
        dw, dh = int(round(w * scale / 32)) * 32 or 32, int(round(h * scale / 32)) * 32 or 32
        net = self._center_net((dw, dh))
        net.setInput(cv2.dnn.blobFromImage(image, 1.0, (dw, dh), (0, 0, 0), swapRB=False, crop=False))
        heat, scl, off, lms = net.forward(net.getUnconnectedOutLayersNames())
        heat, scl, off, lms = heat[0, 0], scl[0], off[0], lms[0]
        ys, xs = np.nonzero(heat > threshold)
        if not len(ys):
            return []
        s0, s1 = np.exp(scl[0, ys, xs]) * 4, np.exp(scl[1, ys, xs]) * 4
        cx = (xs + off[1, ys, xs] + 0.5) * 4
        cy = (ys + off[0, ys, xs] + 0.5) * 4
        x1, y1 = np.maximum(0, cx - s1 / 2), np.maximum(0, cy - s0 / 2)
        x2, y2 = np.minimum(dw, x1 + s1), np.minimum(dh, y1 + s0)
        scores = heat[ys, xs]
        keep = cv2.dnn.NMSBoxes([[float(a), float(b), float(c - a), float(d - b)] for a, b, c, d in
                                 zip(x1, y1, x2, y2, strict=True)], scores.tolist(), threshold, NMS_THRESHOLD)
        faces = []
        sx, sy = w / dw, h / dh
        for k in np.asarray(keep).ravel():
            pts = np.array([[lms[2 * j + 1, ys[k], xs[k]] * s1[k] + x1[k],
                             lms[2 * j, ys[k], xs[k]] * s0[k] + y1[k]] for j in range(5)], dtype=np.float64)
            pts *= (sx, sy)
            box = np.array([x1[k] * sx, y1[k] * sy, x2[k] * sx, y2[k] * sy])
            faces.append((box, float(scores[k]), pts))
        faces.sort(key=lambda f: (f[0][0], f[0][1]))
        return faces

    # ------------------------------------------------------------------ per face
    def _levelled_crop(self, image: np.ndarray, box: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        left_eye, right_eye = pts[0], pts[1]
        angle = np.degrees(np.arctan2(right_eye[1] - left_eye[1], right_eye[0] - left_eye[0]))
        return _square_crop(image, box, float(angle))

    def _mesh_at(self, image: np.ndarray, box: np.ndarray, angle: float) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """FaceMesh on the square crop 1.5x ``box`` (x1, y1, x2, y2), turned by ``angle`` degrees:
        its face flag (a probability), its 468 points in the crop's pixels, the crop and the affine
        map from ``image`` onto the crop."""
        crop, m = _square_crop(image, box, angle)
        self._mesh.setInput(self._tensor(crop))
        flag, mesh = self._mesh.forward(self._mesh.getUnconnectedOutLayersNames())
        return float(1.0 / (1.0 + np.exp(-float(flag.ravel()[0])))), mesh.reshape(468, 3)[:, :2], crop, m

    @staticmethod
    def _tensor(bgr: np.ndarray) -> np.ndarray:
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None])

    def _eye_openness(self, crop: np.ndarray, mesh: np.ndarray, a: int, b: int, flip: bool) -> float:
        centre = (mesh[a] + mesh[b]) / 2
        width = float(np.linalg.norm(mesh[a] - mesh[b]))
        if width < 2:
            return 0.0
        size = width * 2.3
        m = np.array([[EYE_SIZE / size, 0, EYE_SIZE / 2 - centre[0] * EYE_SIZE / size],
                      [0, EYE_SIZE / size, EYE_SIZE / 2 - centre[1] * EYE_SIZE / size]], np.float32)
        eye = cv2.warpAffine(crop, m, (EYE_SIZE, EYE_SIZE), borderMode=cv2.BORDER_REPLICATE)
        if flip:
            eye = np.ascontiguousarray(eye[:, ::-1])
        self._iris.setInput(self._tensor(eye))
        contour, _ = self._iris.forward(self._iris.getUnconnectedOutLayersNames())
        lid = contour.reshape(-1, 3)[:16, :2]
        span = float(lid[:, 0].max() - lid[:, 0].min())
        return float(lid[:, 1].max() - lid[:, 1].min()) / span if span > 1 else 0.0

    def analyze(self, image: np.ndarray, detail: Callable[[], LargerFrame | None] | None = None,
                long_side: int = DETECT_LONG_SIDE) -> list[Face]:
        """Every face of ``image``, judged when first asked (Face); boxes and mesh points in
        ``image``'s pixels.

        ``detail`` (optional) gives the same photo decoded larger: a face under DETAIL_FACE pixels
        is judged on its crop from there (eyes, mouth and sharpness need the pixels a small face
        lacks), so ``image`` itself can stay small; it is asked for only when such a face is judged.
        ``long_side``: the size the detector sees the photo at (REFERENCE_LONG_SIDE for small faces).
        """
        if not self.available:
            return []
        with self._lock:
            h, w = image.shape[:2]
            return [self._face(image, detail, box, conf, pts)
                    for box, conf, pts in self.detect(image, long_side)
                    if max(box[2] - box[0], box[3] - box[1]) >= MIN_FACE_FRACTION * max(h, w)]

    def find_at(self, image: np.ndarray, box: tuple[float, float, float, float],
                detail: Callable[[], LargerFrame | None] | None = None, span: float = 3.0) -> Face | None:
        """The face at ``box`` (x, y, w, h: where another frame of the burst has it), looked for on a
        crop ``span`` faces wide shown to the detector with the face CROP_FACE px wide, or None.
        Three faces wide leaves room for a face that moved between frames; a box found on this
        very photo (Immich's) needs less (scoring.KNOWN_SPAN).

        A face the whole-frame detection missed (small, soft, turned a little) is found this way at
        a fraction of a whole-frame search's cost, so a person is not taken for absent, which would
        count against the frame like closed eyes.
        """
        if not self.available:
            return None
        x, y, bw, bh = box
        side = span * max(bw, bh)
        if side < 8:
            return None
        k = CROP_FACE * span / side
        cx, cy = x + bw / 2, y + bh / 2
        size = int(round(CROP_FACE * span / 32)) * 32
        m = np.float32([[k, 0, size / 2 - cx * k], [0, k, size / 2 - cy * k]])
        with self._lock:
            crop = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            found = [(b, c, p) for b, c, p in self.detect(crop, size, CROP_THRESHOLD)
                     if 0.5 * bw * k <= b[2] - b[0] <= 2.0 * bw * k]
            if not found:
                return None
            b, c, p = min(found, key=lambda f: float(np.hypot((f[0][0] + f[0][2] - size) / 2,
                                                               (f[0][1] + f[0][3] - size) / 2)))
            if np.hypot((b[0] + b[2] - size) / 2, (b[1] + b[3] - size) / 2) > 0.6 * bw * k:
                return None  # somebody else's face in the crop
            back = np.array([[1 / k, 0, cx - size / 2 / k], [0, 1 / k, cy - size / 2 / k]])
            corners = np.array([[b[0], b[1], 1.0], [b[2], b[3], 1.0]]) @ back.T
            pts = np.hstack([p, np.ones((5, 1))]) @ back.T
            return self._face(image, detail, corners.ravel(), c, pts)

    def judge_known(self, image: np.ndarray, box: tuple[float, float, float, float],
                    detail: Callable[[], LargerFrame | None] | None = None) -> Face | None:
        """The face the source found at ``box`` (x, y, w, h in ``image``'s pixels), or None.

        Immich's machine learning has found the face already, so the detector is not asked again
        (a crop detection cost 17 ms a face, more than judging it): the face keeps the source's box
        and is levelled by FaceMesh's own eye points. One FaceMesh run on the unlevelled square
        crop gives its face flag and the eyes' line; the judgement (Face) then runs FaceMesh on
        the crop levelled by that line, as it would on a detected face's. Where the box is of no use
        as it stands (under KNOWN_MIN_SIDE px, its centre off the frame, or FaceMesh sees no face
        there: flag under KNOWN_MESH_CONFIDENCE) the face is looked for on a crop (find_at) instead.
        """
        if not self.available:
            return None
        h, w = image.shape[:2]
        x, y, bw, bh = box
        cx, cy = x + bw / 2, y + bh / 2
        if max(bw, bh) < KNOWN_MIN_SIDE or not (0 <= cx < w and 0 <= cy < h):
            return self.find_at(image, box, detail)
        corners = np.array([x, y, x + bw, y + bh], dtype=np.float64)
        with self._lock:
            flag, mesh, _, m = self._mesh_at(image, corners, 0.0)
            if flag < KNOWN_MESH_CONFIDENCE:
                return self.find_at(image, box, detail)
            # The eye centres (image left, image right) in image pixels: the roll, as a detector's
            # eye landmarks would give it.
            back = cv2.invertAffineTransform(m)
            eyes = np.array([mesh[list(LEFT_EYE)].mean(axis=0), mesh[list(RIGHT_EYE)].mean(axis=0)])
            pts = np.hstack([eyes, np.ones((2, 1))]) @ back.T
            return self._face(image, detail, corners, flag, pts)

    def _face(self, image: np.ndarray, detail: Callable[[], LargerFrame | None] | None, box: np.ndarray,
              conf: float, pts: np.ndarray) -> Face:
        """One detected face, judged when first asked (Face): on the larger decode when it is small here."""
        h, w = image.shape[:2]
        fw, fh = box[2] - box[0], box[3] - box[1]
        return Face(box=(float(box[0]), float(box[1]), float(fw), float(fh)), confidence=float(conf),
                    area=float(fw * fh) / (w * h), judge=lambda: self._judged_face(image, detail, box, pts))

    def _judged_face(self, image: np.ndarray, detail: Callable[[], LargerFrame | None] | None, box: np.ndarray,
                     pts: np.ndarray) -> Judgement:
        """Judge one detected face (on the larger decode, made only now, when it is small here)."""
        with self._lock:
            w = image.shape[1]
            src, k, origin = image, 1.0, np.zeros(2)
            if detail is not None and max(box[2] - box[0], box[3] - box[1]) < DETAIL_FACE:
                larger = detail()
                if larger is not None and larger.shape[1] > 1.2 * w:
                    k = larger.shape[1] / w
                    src, origin = larger.around(box * k, CROP_REACH)  # only the part the crops below reach
            eyes, smile, mouth_open, sharp, mesh = self._judge_face(src, box * k - np.tile(origin, 2), pts * k - origin)
            return eyes, smile, mouth_open, sharp, (mesh + origin) / k

    def _judge_face(self, image: np.ndarray, box: np.ndarray,
                    pts: np.ndarray) -> tuple[float, float, float, float, np.ndarray]:
        """Eye openness, smile, open mouth, sharpness and mesh (image pixels) of one detected face."""
        h, w = image.shape[:2]
        fw, fh = box[2] - box[0], box[3] - box[1]
        crop, m = self._levelled_crop(image, box, pts)
        self._mesh.setInput(self._tensor(crop))
        _, mesh = self._mesh.forward(self._mesh.getUnconnectedOutLayersNames())
        mesh = mesh.reshape(468, 3)[:, :2]
        eye_dist = float(np.linalg.norm(mesh[33] - mesh[263])) or 1.0
        # A smile lifts the mouth corners above the upper lip; an open mouth (talking,
        # yawning) only drops the lower lip, so it is measured apart and never read as one.
        corners = (mesh[61][1] + mesh[291][1]) / 2
        smile = float(mesh[13][1] - corners) / eye_dist
        mouth_open = float(mesh[14][1] - mesh[13][1]) / eye_dist
        in_image = cv2.transform(mesh[None].astype(np.float64), cv2.invertAffineTransform(m))[0]
        # The cheapest test first: a face's openness is its smaller eye's, and any openness under
        # BLINK_ABSOLUTE counts as closed against any best frame of the person (scoring's
        # eyes_open_share gives 0; such a frame can be the person's best only if every frame is
        # under it, when all count 0). So a first eye under it decides the face, and the second
        # iris run (3 ms, a third of judging a face) would change no score, word or keeper.
        # Nothing cheaper can stand in for the iris runs: FaceMesh's own lid points do not close
        # (docs/benchmarks.md, "Cheaper eyes"), and open eyes' shares need both eyes exactly.
        eyes = self._eye_openness(crop, mesh, 33, 133, False)
        if eyes >= BLINK_ABSOLUTE:
            eyes = min(eyes, self._eye_openness(crop, mesh, 362, 263, True))
        # Sharpness on the face box at its own resolution (shrunk to SHARP_SIZE at most,
        # never enlarged: an enlarged small face looks equally soft whether it is or not).
        x0, y0 = max(0, int(box[0] + 0.1 * fw)), max(0, int(box[1] + 0.1 * fh))
        x1, y1 = min(w, int(box[2] - 0.1 * fw)), min(h, int(box[3] - 0.1 * fh))
        face_px = image[y0:max(y1, y0 + 2), x0:max(x1, x0 + 2)]
        side = max(face_px.shape[:2])
        if side > SHARP_SIZE:
            k = SHARP_SIZE / side
            face_px = cv2.resize(face_px, (max(2, int(face_px.shape[1] * k)), max(2, int(face_px.shape[0] * k))),
                                 interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(face_px, cv2.COLOR_BGR2GRAY)
        sharp = float(cv2.Laplacian(gray, cv2.CV_64F).var()) / (float(gray.var()) + 1.0)
        return eyes, smile, mouth_open, sharp, in_image
