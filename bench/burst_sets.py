"""Camera bursts: labelled sets (burst ids, burst file names) and the JPEGs phones write for them.

Writing the burst id, as phones do:

- XMP: an APP1 segment ``http://ns.adobe.com/xap/1.0/\\0`` + an XMP packet, inserted right after the
  EXIF APP1 (where Pixel phones put it), holding ``GCamera:BurstID`` (or another property).
- Apple: a maker note (EXIF tag 0x927C) "Apple iOS\\0", version 1, "MM", one IFD entry 0x000B
  BurstUUID, offsets relative to the note, as iPhones write it.
A real Immich v3.1.0 reads all of these into ``autoStackId`` (see README "Camera patterns").

The labelled sets (``make bench``, tests/test_camera_bursts.py) are made of the demo library's real
photos, like bench/labelled_sets.py: a subject crossing the frame so far that hashing alone splits
the burst, an exposure jump inside a burst, two bursts of one scene seconds apart with their own ids,
and phones' burst names (with traps: burst-like names on different moments).
"""

from __future__ import annotations

import io
import struct
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from bench.labelled_sets import BRACKET_SOURCES, START, LabelledSet, _ev, _handheld, _real

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


# ----------------------------------------------------------------------------- labelled sets
def _save(bgr: np.ndarray, root: Path, rel: str, taken: datetime, **kwargs: object) -> str:
    rgb = Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    save_burst_jpeg(rgb, root / rel, taken, **kwargs)
    return rel


def _crossing(base: np.ndarray, subject: np.ndarray, k: int, n: int, rng: np.random.Generator,
              share: float = 0.75) -> np.ndarray:
    """Frame k of n: a big subject (``share`` of the frame's height) crossing from left to right."""
    frame = _handheld(base, rng, 2.0)
    h, w = frame.shape[:2]
    sh = int(h * share)
    sw = int(subject.shape[1] * sh / subject.shape[0] * 0.7)
    cut = cv2.resize(subject, (sw, sh))
    x = int((w - sw) * k / max(1, n - 1))
    y = (h - sh) // 2
    frame[y:y + sh, x:x + sw] = cut
    return frame


def camera_ids(root: Path, with_ids: bool = True, only: tuple[str, ...] | None = None) -> LabelledSet:
    """Bursts the camera named: moving subject, exposure jump, and two bursts of one scene 4 s apart.

    ``with_ids=False`` writes the same pixels without ids: what hashing and verification do alone.
    ``only`` keeps the bursts whose names start with one of these (the pixels stay the same).
    """
    rng = np.random.default_rng(121)
    out = LabelledSet("camera_ids" if with_ids else "camera_ids_without", root / ("ids" if with_ids else "noids"))
    subject = _real("2024-07-15/IMG_0203.jpg")  # the cat
    t = START + timedelta(days=3)

    def burst(frames: list[np.ndarray], name: str, bid: str, when: datetime, kind: str, apple: bool = False) -> None:
        if only is not None and not name.startswith(only):
            return
        ids = []
        for k, frame in enumerate(frames):
            kw: dict[str, object] = {}
            if with_ids:
                kw = ({"apple_uuid": bid, "make": "Apple", "model": "iPhone 12"} if apple else {"burst_id": bid})
            ids.append(_save(frame, out.root, f"{name}_{k:02d}.jpg", when + timedelta(milliseconds=300 * k), **kw))
        out.photos.extend(ids)
        out.groups.append(ids)
        out.keepers.append(None)
        out.kinds.append(kind)

    # 1. a subject crossing three quarters of the frame: hashes drift far apart frame to frame
    for b, src in enumerate(("2024-07-16/IMG_0301.jpg", "2024-07-16/IMG_0401.jpg")):
        base = _real(src)
        burst([_crossing(base, subject, k, 5, rng) for k in range(5)], f"PXL_MOVE{b}", f"MOVE-{b}-7f3a9c",
              t + timedelta(hours=b), "burst", apple=b == 1)
    # 2. an exposure jump inside a burst (the camera re-metered): -2, 0, +2 EV
    base = _real("2024-07-15/IMG_0212.jpg")
    burst([_ev(_handheld(base, rng, 2.0), ev) for ev in (-2.0, -2.0, 1.5, 1.5)], "PXL_EXPO", "EXPO-5d21",
          t + timedelta(hours=3), "burst")
    # 3. two bursts of one scene 4 s apart, each with its own id: two groups, not one
    base = _real("2024-07-16/IMG_0403.jpg")
    for b in range(2):
        burst([_handheld(base, rng, 2.0) for _ in range(3)], f"PXL_TWICE{b}", f"TWICE-{b}-c0ffee",
              t + timedelta(hours=4, seconds=4 * b), "burst")
    if not with_ids and out.groups[-1][0].startswith("PXL_TWICE1"):
        # without ids the two bursts of one scene are rightly one group of look-alikes
        out.groups[-2:] = [out.groups[-2] + out.groups[-1]]
        out.keepers.pop()
        out.kinds.pop()
    return out


#: Name patterns: (file name of frame k, given the burst's start time). Each names one burst.
NAME_STYLES = {
    "samsung": lambda t, k: f"{t:%Y%m%d_%H%M%S}_{k + 1:03d}.jpg",
    "huawei": lambda t, k: f"IMG_{t:%Y%m%d_%H%M%S}_BURST{k + 1:03d}{'_COVER' if k == 0 else ''}.jpg",
    "pixel_old": lambda t, k: f"{k:05d}IMG_{k:05d}_BURST{t:%Y%m%d%H%M%S}{t.microsecond // 1000:03d}"
                              f"{'_COVER' if k == 0 else ''}.jpg",
    "sony": lambda t, k: f"DSC_{35 + k:04d}_BURST{t:%Y%m%d%H%M%S}{t.microsecond // 1000:03d}.JPG",
}


def burst_names(root: Path) -> LabelledSet:
    """Named bursts whose frames move more than the hash threshold allows, and two traps.

    Traps: burst-like names on photos of different scenes taken within a second (a name never
    joins different moments).
    """
    rng = np.random.default_rng(122)
    out = LabelledSet("burst_names", root / "names")
    subject = _real("2024-07-15/IMG_0203.jpg")
    t = START + timedelta(days=4)
    scenes = ["2024-07-16/IMG_0301.jpg", "2024-07-16/IMG_0401.jpg", "2024-07-15/IMG_0212.jpg",
              "2024-07-16/IMG_0403.jpg"]
    for b, name in enumerate(NAME_STYLES.values()):
        base = _real(scenes[b])
        start = t + timedelta(hours=b)
        ids = [_save(_crossing(base, subject, k, 4, rng, share=0.45), out.root, name(start, k),
                     start + timedelta(milliseconds=250 * k)) for k in range(4)]
        out.photos += ids
        out.groups.append(ids)
        out.keepers.append(None)
        out.kinds.append("burst")
    # trap 1: Samsung-style names, one second, four different scenes
    trap = t + timedelta(hours=6)
    for k, src in enumerate(scenes):
        out.photos.append(_save(_handheld(_real(src), rng), out.root, NAME_STYLES["samsung"](trap, k),
                                trap + timedelta(milliseconds=200 * k)))
    return out


def _back_of_print(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """The back of a photo print as a scanner sees it: card-coloured paper and a handwritten line."""
    h, w = size
    card = np.full((h, w, 3), (214, 226, 232), dtype=np.uint8)
    card = np.clip(card.astype(np.int16) + rng.normal(0, 3, card.shape).astype(np.int16), 0, 255).astype(np.uint8)
    cv2.putText(card, "Summer 1987, the garden", (w // 10, h // 2), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
                w / 700, (90, 50, 40), 2, cv2.LINE_AA)
    return card


def _save_dng(bgr: np.ndarray, root: Path, rel: str, taken: datetime) -> str:
    from bench.twin_files import write_dng

    write_dng(Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)), root / rel, taken, preview_side=512)
    return rel


def phone_names(root: Path) -> LabelledSet:
    """Names from immich-go's tests and docs (issue 18): what a phone or scanner says belongs together.

    - named bursts whose subject crosses three quarters of the frame in three frames (Huawei, Sony
      Xperia, Nothing: the hashes drift apart and verification alone turns frames away);
    - Pixel Top Shot ``….MOTION-01.COVER.jpg`` + ``….MOTION-02.ORIGINAL.jpg``;
    - Pixel RAW pairs in a camera mode (``.NIGHT.RAW-01.COVER.jpg`` + ``.NIGHT.RAW-02.ORIGINAL.dng``)
      and motion photos beside their DNG (``.MP.jpg``, also outside ``PXL_`` names): the JPEG is kept;
    - an Epson FastFoto scan, its enhanced copy (kept) and the back of the print;
    - a trap: Nothing-style names on three different scenes within a second.
    """
    rng = np.random.default_rng(123)
    out = LabelledSet("phone_names", root / "phone_names")
    subject = _real("2024-07-15/IMG_0203.jpg")
    t = START + timedelta(days=5)

    def add(ids: list[str], kind: str, keeper: str | None = None) -> None:
        out.photos.extend(ids)
        out.groups.append(ids)
        out.keepers.append(keeper)
        out.kinds.append(kind)

    styles = {
        "huawei": NAME_STYLES["huawei"],
        "sony": NAME_STYLES["sony"],
        "nothing": lambda s, k: f"{k + 1:05d}IMG_{k + 1:05d}_BURST{round(s.timestamp() * 1000)}"
                                f"{'_COVER' if k == 0 else ''}.jpg",
    }
    scenes = ["2024-07-16/IMG_0401.jpg", "2024-07-16/IMG_0301.jpg", "2024-07-15/IMG_0212.jpg"]
    for b, name in enumerate(styles.values()):
        base, start = _real(scenes[b]), t + timedelta(minutes=10 * b)
        add([_save(_crossing(base, subject, k, 3, rng), out.root, name(start, k),
                   start + timedelta(milliseconds=300 * k)) for k in range(3)], "burst")
    moment = t + timedelta(hours=1)
    pxl = f"PXL_{moment:%Y%m%d_%H%M%S}123"
    base = _real("2024-07-14/IMG_0112.jpg")
    add([_save(_handheld(base, rng, 2.0), out.root, f"{pxl}.MOTION-01.COVER.jpg", moment),
         _save(_handheld(base, rng, 2.0), out.root, f"{pxl}.MOTION-02.ORIGINAL.jpg", moment)], "burst")
    pairs = [(f"{pxl[:-3]}456.NIGHT.RAW-01.COVER.jpg", f"{pxl[:-3]}456.NIGHT.RAW-02.ORIGINAL.dng"),
             (f"{pxl[:-3]}789.MP.jpg", f"{pxl[:-3]}789.dng"),
             (f"IMG_{moment:%Y%m%d}_130000.MP.jpg", f"IMG_{moment:%Y%m%d}_130000.dng")]
    for k, (jpeg, dng) in enumerate(pairs):
        when = moment + timedelta(minutes=10 * (k + 1))
        shot = _handheld(_real(BRACKET_SOURCES[k]), rng, 2.0)
        add([_save(shot, out.root, jpeg, when), _save_dng(shot, out.root, dng, when)], "pair", jpeg)
    scan = t + timedelta(hours=2)
    front = _real("2024-07-16/IMG_0402.jpg")
    enhanced = np.clip((front.astype(np.float32) - 128) * 1.2 + 140, 0, 255).astype(np.uint8)
    add([_save(front, out.root, "FastFoto_0001.jpg", scan),
         _save(enhanced, out.root, "FastFoto_0001_a.jpg", scan + timedelta(seconds=1)),
         _save(_back_of_print(rng, front.shape[:2]), out.root, "FastFoto_0001_b.jpg", scan + timedelta(seconds=1))],
        "scan", "FastFoto_0001_a.jpg")
    trap = t + timedelta(hours=3)
    for k, src in enumerate(scenes):
        out.photos.append(_save(_handheld(_real(src), rng), out.root, styles["nothing"](trap, k),
                                trap + timedelta(milliseconds=200 * k)))
    return out


BURST_SETS = {"camera_ids": camera_ids, "burst_names": burst_names, "phone_names": phone_names}
