"""Small RAW (DNG) and HEIC twins of a photo, made on the spot for tests and labelled sets.

No registry ships small camera RAW files, so a minimal but valid DNG is written here: a TIFF whose
IFD0 is an 8-bit RGB preview (what cameras and phones put there, and what LibRaw hands back as the
embedded thumbnail), a SubIFD with a 16-bit Bayer (CFA) mosaic as the raw data, and an Exif IFD with
DateTimeOriginal. Measured on the real Immich v3.1.0 of ../shared/immich-real (README "Camera patterns"):
it accepts such a file as an IMAGE (``image/dng``), reads its capture time with exiftool and makes
its thumbnail from the preview. HEIC files come from pillow-heif (a project dependency).
"""

from __future__ import annotations

import struct
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

# TIFF field types
_BYTE, _ASCII, _SHORT, _LONG, _RATIONAL = 1, 2, 3, 4, 5
_SIZES = {_BYTE: 1, _ASCII: 1, _SHORT: 2, _LONG: 4, _RATIONAL: 8}


def _ifd(entries: dict[int, tuple[int, list[int] | bytes]], start: int) -> tuple[bytes, bytes]:
    """One IFD at offset ``start``: (IFD bytes, out-of-line value bytes placed right after it)."""
    count = len(entries)
    head = struct.pack("<H", count)
    body = b""
    extra = b""
    extra_at = start + 2 + 12 * count + 4
    for tag in sorted(entries):
        typ, value = entries[tag]
        if typ == _ASCII:
            data = (value if isinstance(value, bytes) else bytes(value)) + b"\0"
            n = len(data)
        elif typ == _RATIONAL:
            data = b"".join(struct.pack("<II", *pair) for pair in zip(value[::2], value[1::2], strict=True))
            n = len(value) // 2
        else:
            fmt = {_BYTE: "B", _SHORT: "H", _LONG: "I"}[typ]
            data = struct.pack("<" + fmt * len(value), *value)
            n = len(value)
        if len(data) <= 4:
            body += struct.pack("<HHI", tag, typ, n) + data.ljust(4, b"\0")
        else:
            if len(extra) % 2:
                extra += b"\0"
            body += struct.pack("<HHII", tag, typ, n, extra_at + len(extra))
            extra += data
    return head + body + struct.pack("<I", 0), extra


def write_dng(rgb: Image.Image, path: Path, taken: datetime | None, preview_side: int = 256,
              make: str = "Example", model: str = "Camera 1") -> Path:
    """Write a small valid DNG of ``rgb``: RGB preview in IFD0, CFA mosaic in a SubIFD, EXIF time."""
    rgb = rgb.convert("RGB")
    preview = rgb.copy()
    preview.thumbnail((preview_side, preview_side))
    pw, ph = preview.size
    pixels = np.asarray(preview, dtype=np.uint8).tobytes()
    # A quarter-size RGGB mosaic of the photo, 16-bit.
    small = np.asarray(rgb.resize((max(2, rgb.width // 4) & ~1, max(2, rgb.height // 4) & ~1)), dtype=np.uint16)
    rh, rw = small.shape[:2]
    cfa = np.empty((rh, rw), dtype=np.uint16)
    cfa[0::2, 0::2] = small[0::2, 0::2, 0]
    cfa[0::2, 1::2] = small[0::2, 1::2, 1]
    cfa[1::2, 0::2] = small[1::2, 0::2, 1]
    cfa[1::2, 1::2] = small[1::2, 1::2, 2]
    raw = (cfa.astype(np.uint32) * 257).astype("<u2").tobytes()
    when = (taken.strftime("%Y:%m:%d %H:%M:%S") if taken else "").encode()

    # Layout: header | IFD0 + extra | raw IFD + extra | exif IFD + extra | preview pixels | raw pixels
    # Offsets depend on sizes, so lay out twice (first pass with placeholder offsets).
    def build(off: dict[str, int]) -> tuple[bytes, dict[str, int]]:
        ifd0 = {254: (_LONG, [1]), 256: (_LONG, [pw]), 257: (_LONG, [ph]), 258: (_SHORT, [8, 8, 8]),
                259: (_SHORT, [1]), 262: (_SHORT, [2]), 271: (_ASCII, make.encode()),
                272: (_ASCII, model.encode()), 273: (_LONG, [off["preview"]]), 274: (_SHORT, [1]),
                277: (_SHORT, [3]), 278: (_LONG, [ph]), 279: (_LONG, [len(pixels)]), 284: (_SHORT, [1]),
                305: (_ASCII, b"photo-organizer tests"), 330: (_LONG, [off["rawifd"]]),
                34665: (_LONG, [off["exif"]]), 50706: (_BYTE, [1, 4, 0, 0]), 50707: (_BYTE, [1, 1, 0, 0]),
                50708: (_ASCII, f"{make} {model}".encode())}
        if when:
            ifd0[306] = (_ASCII, when)
        rawifd = {254: (_LONG, [0]), 256: (_LONG, [rw]), 257: (_LONG, [rh]), 258: (_SHORT, [16]),
                  259: (_SHORT, [1]), 262: (_SHORT, [32803]), 273: (_LONG, [off["raw"]]), 277: (_SHORT, [1]),
                  278: (_LONG, [rh]), 279: (_LONG, [len(raw)]), 284: (_SHORT, [1]),
                  33421: (_SHORT, [2, 2]), 33422: (_BYTE, [0, 1, 1, 2]), 50714: (_LONG, [0]),
                  50717: (_LONG, [65535]), 50721: (_RATIONAL, [1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1]),
                  50778: (_SHORT, [21])}
        exif = {36864: (_BYTE, list(b"0232"))}
        if when:
            exif[36867] = (_ASCII, when)
            exif[36868] = (_ASCII, when)
        out = bytearray(b"II*\0" + struct.pack("<I", 8))
        found: dict[str, int] = {}
        for name, entries in (("ifd0", ifd0), ("rawifd", rawifd), ("exif", exif)):
            if len(out) % 2:
                out += b"\0"
            found[name] = len(out)
            head, extra = _ifd(entries, len(out))
            out += head + extra
        if len(out) % 2:
            out += b"\0"
        found["preview"] = len(out)
        out += pixels
        if len(out) % 2:
            out += b"\0"
        found["raw"] = len(out)
        out += raw
        return bytes(out), found

    _, offsets = build({"preview": 0, "rawifd": 0, "exif": 0, "raw": 0})
    data, check = build(offsets)
    assert check == offsets, "DNG layout did not settle"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_heic(rgb: Image.Image, path: Path, taken: datetime | None, quality: int = 80) -> Path:
    """A HEIC photo (pillow-heif) with EXIF DateTimeOriginal and a camera Make/Model."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    exif = Image.Exif()
    exif[0x010F] = "Example"
    exif[0x0110] = "Phone 12"
    if taken is not None:
        exif[0x8769] = {0x9003: taken.strftime("%Y:%m:%d %H:%M:%S")}
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb.convert("RGB").save(path, format="HEIF", quality=quality, exif=exif.tobytes())
    return path


def motion_photo(jpeg: bytes, video: bytes) -> bytes:
    """A Google motion photo (Pixel ``….MP.jpg``): the JPEG, XMP ``GCamera:MicroVideo*`` and the MP4 appended.

    The real Immich v3.1.0 extracts the appended video as a hidden VIDEO asset and links it to the
    still through the still's ``livePhotoVideoId``, as it does for Apple Live Photos.
    """
    import struct

    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    xmp = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           '<rdf:Description rdf:about="" xmlns:GCamera="http://ns.google.com/photos/1.0/camera/" '
           f'GCamera:MicroVideo="1" GCamera:MicroVideoVersion="1" GCamera:MicroVideoOffset="{len(video)}" '
           'GCamera:MicroVideoPresentationTimestampUs="0"/></rdf:RDF></x:xmpmeta>').encode()
    payload = b"http://ns.adobe.com/xap/1.0/\0" + xmp
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + segment + jpeg[2:] + video
