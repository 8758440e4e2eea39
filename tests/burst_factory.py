"""Camera burst ids written into generated JPEGs, as phones write them.

- XMP: an APP1 segment ``http://ns.adobe.com/xap/1.0/\\0`` + an XMP packet, inserted right after the
  EXIF APP1 (where Pixel phones put it), holding ``GCamera:BurstID`` (or another property).
- Apple: a maker note (EXIF tag 0x927C) "Apple iOS\\0", version 1, "MM", one IFD entry 0x000B
  BurstUUID, offsets relative to the note, as iPhones write it.
"""

from __future__ import annotations

import io
import struct
from datetime import datetime
from pathlib import Path

from PIL import Image

EXIF_IFD = 0x8769
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
NAMESPACES = {"GCamera": "http://ns.google.com/photos/1.0/camera/",
              "GCreations": "http://ns.google.com/photos/1.0/creations/"}


def xmp_packet(prop: str, value: str, element: bool = False) -> bytes:
    """An XMP packet with one property ``prefix:Name`` (as an attribute, or an element)."""
    prefix = prop.split(":", 1)[0]
    ns = NAMESPACES.get(prefix, f"http://example.com/{prefix}/")
    body = (f'<rdf:Description rdf:about="" xmlns:{prefix}="{ns}"><{prop}>{value}</{prop}></rdf:Description>'
            if element else f'<rdf:Description rdf:about="" xmlns:{prefix}="{ns}" {prop}="{value}"/>')
    return (b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            + body.encode() + b'</rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


def insert_xmp(jpeg: bytes, packet: bytes) -> bytes:
    """Insert an XMP APP1 segment after SOI and any APP0/APP1 segments already there."""
    assert jpeg[:2] == b"\xff\xd8"
    pos = 2
    while jpeg[pos] == 0xFF and jpeg[pos + 1] in (0xE0, 0xE1):
        pos += 2 + struct.unpack(">H", jpeg[pos + 2:pos + 4])[0]
    payload = XMP_HEADER + packet
    return jpeg[:pos] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[pos:]


def apple_maker_note(burst_uuid: str) -> bytes:
    value = burst_uuid.encode() + b"\x00"
    entry = struct.pack(">HHI", 0x000B, 2, len(value)) + struct.pack(">I", 14 + 2 + 12 + 4)
    return b"Apple iOS\x00" + b"\x00\x01" + b"MM" + struct.pack(">H", 1) + entry + b"\x00\x00\x00\x00" + value


def jpeg_bytes(img: Image.Image, taken: datetime | None, burst_id: str | None = None, prop: str = "GCamera:BurstID",
               apple_uuid: str | None = None, make: str = "Google", model: str = "Pixel 8",
               element: bool = False, quality: int = 90) -> bytes:
    """A camera JPEG with capture time, make/model and optionally a burst id (XMP or Apple maker note)."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = make, model
    sub: dict[int, object] = {}
    if taken is not None:
        sub[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
    if apple_uuid is not None:
        sub[0x927C] = apple_maker_note(apple_uuid)
    if sub:
        exif[EXIF_IFD] = sub
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality, exif=exif.tobytes())
    data = buf.getvalue()
    if burst_id is not None:
        data = insert_xmp(data, xmp_packet(prop, burst_id, element=element))
    return data


def save_burst_jpeg(img: Image.Image, path: Path, taken: datetime | None, **kwargs: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jpeg_bytes(img, taken, **kwargs))  # type: ignore[arg-type]
    return path
