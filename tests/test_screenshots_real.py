"""Screenshots on the real Immich: told by the listing's EXIF (no camera make/model) and the original's size.

The hash is made from Immich's thumbnail, so the decoded size is never a screen's; the listing's
``exifInfo`` and ``width``/``height`` are what say "a screen, no camera". Look-alike screenshots
(one app, different content) must not become one group, as in local mode, and a camera's burst at
a screen's size (1920x1080) must still group.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
from photo_factory import scene, variant
from PIL import Image
from real_immich import jpeg_bytes

from bench.labelled_sets import FONT, _inbox_screenshot, _words
from organizer.immich.run import run_immich_pass
from organizer.settings import ActionFlags, ImmichSettings

START = datetime(2024, 9, 2, 18, 0, tzinfo=UTC)


def _plain_jpeg(bgr: np.ndarray) -> bytes:
    """A JPEG without any EXIF, as a messenger saves a screenshot."""
    buf = io.BytesIO()
    Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _new_mail(inbox: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same inbox a moment later: one new mail at the top, the rest as before."""
    out = inbox.copy()
    cv2.rectangle(out, (210, 430), (out.shape[1] - 220, 640), (255, 255, 255), -1)
    cv2.putText(out, _words(rng, 2).title()[:22], (220, 470), FONT, 1.6, (0, 0, 0), 4)
    cv2.putText(out, _words(rng, 4)[:34], (220, 535), FONT, 1.4, (40, 40, 40), 3)
    return out


def _runner(k: int) -> Image.Image:
    """Frame k of a camera's burst at 1920x1080: someone runs across a still scene."""
    frame = np.array(variant(scene(61, (1920, 1080)), k, 0.0 if k == 0 else 1.0 + 0.3 * k))
    x = 300 + 500 * k
    cv2.rectangle(frame, (x, 420), (x + 220, 900), (200, 40, 40), -1)
    cv2.circle(frame, (x + 110, 340), 80, (230, 180, 150), -1)
    return Image.fromarray(frame)


def test_look_alike_jpeg_screenshots_stay_apart_and_a_camera_burst_at_screen_size_groups(immich, tmp_path):
    rng = np.random.default_rng(104)
    inbox = _inbox_screenshot(rng)
    screens = [inbox] + [_new_mail(inbox, rng) for _ in range(3)]  # the same app, a new mail each time
    shots = [immich.upload(_plain_jpeg(img), f"IMG_{5000 + k}.jpg", START + timedelta(seconds=20 * k), wait=False)
             for k, img in enumerate(screens)]
    burst = [immich.upload(jpeg_bytes(_runner(k), START + timedelta(hours=2, seconds=k)), f"CAM_{k}.jpg",
                           START + timedelta(hours=2, seconds=k), wait=False) for k in range(3)]
    immich.wait_ready(shots + burst)
    s = ImmichSettings(url=immich.url, api_key=immich.api_key, state_dir=tmp_path / "state",
                       actions=ActionFlags(stack=True))
    report = run_immich_pass(s, dry_run=True).report
    groups = sorted(sorted(p["name"] for p in g["photos"]) for g in report["groups"])
    assert groups == [["CAM_0.jpg", "CAM_1.jpg", "CAM_2.jpg"]], groups
