"""Debian's Chromium driven by Playwright, as every browser test here uses it (no browser download)."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from required_parts import missing

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Without the background-networking flags Chromium keeps dialling out, which this network refuses.
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

#: Scrolls every image into view (they are lazy) and returns each one's natural width once loaded.
RENDERED_WIDTHS = """async () => {
  const widths = [];
  for (const img of Array.from(document.images)) {
    img.scrollIntoView();
    if (!img.complete) {
      await new Promise(done => { img.onload = img.onerror = done; setTimeout(done, 10000); });
    }
    widths.push(img.naturalWidth);
  }
  return widths;
}"""


def sync_playwright():  # type: ignore[no-untyped-def]
    """Playwright's sync API, or one skip line saying what is missing."""
    if not Path(CHROMIUM).exists():
        missing("Chromium not installed (apt-get install -y chromium, or `make browser` as root)")
    try:
        from playwright.sync_api import sync_playwright as start
    except ImportError:
        missing("playwright not installed (pip install -e '.[dev]')")
    return start()


@contextlib.contextmanager
def chromium_page(playwright, viewport: dict[str, int] | None = None):  # type: ignore[no-untyped-def]
    """A page in a fresh headless Chromium, and the list its JavaScript errors are collected in;
    the browser is closed however the test ends."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
    try:
        page = browser.new_page(**({"viewport": viewport} if viewport else {}))
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        yield page, errors
    finally:
        browser.close()
