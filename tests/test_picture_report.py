"""The picture report: a self-contained HTML page beside every run's JSON report.

Checked on synthetic reports (escaping, best marked, kind/confidence/evidence present or absent,
streaming) and end to end: the real command in local mode (normal and dry run) and against the
fake Immich, where the page must not cost extra downloads for groups the pass scored itself.
"""

from __future__ import annotations

import base64
import io
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cli_helpers import load_report, run_cli
from PIL import Image

from organizer.report import pictures as pr

EVIL = "<script>alert(1)</script>.jpg"


class Page(HTMLParser):
    """Every tag with its attributes, and the visible text, of one HTML page."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.scripts = 0
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        if tag == "script":
            self.scripts += 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str, cls: str | None = None) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and (cls is None or cls in a.get("class", "").split())]


def assert_self_contained(html: str) -> Page:
    """No resource outside the file: no remote src/href, every image a data: URI that decodes."""
    page = Page(html)
    for tag, attrs in page.tags:
        for key in ("src", "href", "action", "srcset", "poster", "data"):
            value = attrs.get(key, "")
            assert not value.startswith(("http:", "https:", "//", "file:")), f"<{tag} {key}={value[:60]}>"
        if tag == "link":
            raise AssertionError(f"external <link>: {attrs}")
        if tag == "script":
            assert "src" not in attrs, "scripts are inline"
    lowered = html.lower()
    assert "@import" not in lowered and "url(" not in lowered, "no CSS fetch"
    for img in page.all("img"):
        assert img["src"].startswith("data:image/"), img["src"][:40]
        header, _, payload = img["src"].partition(",")
        assert header.endswith(";base64")
        Image.open(io.BytesIO(base64.b64decode(payload))).verify()
    return page


def photo(pid: str, name: str, parts: dict[str, Any] | None = None, score: float = 0.5) -> dict[str, Any]:
    return {"id": pid, "name": name, "path": None, "taken_at": "2024-07-14T09:00:00", "width": 640,
            "height": 480, "size": 120_000, "score": score, "score_parts": parts or {}}


def report_of(groups: list[dict[str, Any]], **settings: Any) -> dict[str, Any]:
    return {"version": 1, "settings": {"source": "/photos", "dry_run": False} | settings,
            "summary": {"photos": 10, "groups": len(groups), "photos_in_groups": 0, "skipped": 0},
            "groups": groups, "skipped": []}


def jpeg(colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "JPEG")
    return out.getvalue()


def write(tmp_path: Path, report: dict[str, Any], thumbs: dict[str, bytes] | None = None) -> str:
    spool = pr.ThumbnailSpool()
    for pid, data in (thumbs or {}).items():
        spool.put(pid, data)
    path = pr.write_picture_report(tmp_path / "latest.html", report, spool)
    spool.close()
    return path.read_text(encoding="utf-8")


def test_file_names_are_escaped_everywhere(tmp_path):
    group = {"id": "g1", "index": 1, "best": "a", "photos": [
        photo("a", EVIL, {"sharpness": 1.0}), photo("b", 'quote" onerror="x.jpg', {"sharpness": 0.5})]}
    html = write(tmp_path, report_of([group], source="<b>src</b>"), {"a": jpeg(), "b": jpeg()})
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.jpg" in html
    page = assert_self_contained(html)
    assert page.scripts == 1, "only the page's own script"
    alts = {img["alt"] for img in page.all("img")}
    assert alts == {EVIL, 'quote" onerror="x.jpg'}, "attribute values stay whole (escaped quotes)"
    assert all("onerror" not in attrs for _, attrs in page.tags)
    assert "<b>src</b>" not in html


def test_best_is_marked_once_per_group_and_shown_first(tmp_path):
    groups = [{"id": f"g{n}", "index": n, "best": f"p{n}-2", "photos": [
        photo(f"p{n}-{k}", f"IMG_{n}{k}.jpg", {"sharpness": 1.0 if k == 2 else 0.4}) for k in range(3)]}
        for n in range(1, 4)]
    html = write(tmp_path, report_of(groups), {f"p{n}-{k}": jpeg() for n in range(1, 4) for k in range(3)})
    page = assert_self_contained(html)
    figures = page.all("figure")
    assert len(figures) == 9
    best = page.all("figure", "best")
    assert [f["data-id"] for f in best] == ["p1-2", "p2-2", "p3-2"]
    assert [f["data-id"] for f in figures[::3]] == ["p1-2", "p2-2", "p3-2"], "the best shot leads its group"
    assert html.count(">BEST<") == 3
    assert "Best: IMG_12.jpg" in html


def test_kind_confidence_and_evidence_when_present_and_graceful_when_absent(tmp_path):
    with_all = {"id": "g1", "index": 1, "best": "a", "kind": "burst", "confidence": 0.87,
                "evidence": {"hash_distance": 3, "seconds_apart": 2.0, "note": {"why": "same framing"}},
                "photos": [photo("a", "A.jpg", {"sharpness": {"value": 1.0, "why": "sharpest of the burst"}}),
                           photo("b", "B.jpg", {"sharpness": {"value": 0.3, "why": "motion blur"}})]}
    bare = {"id": "g2", "index": 2, "best": "c", "photos": [photo("c", "C.jpg"), photo("d", "D.jpg")]}
    html = write(tmp_path, report_of([with_all, bare]))
    page = assert_self_contained(html)
    text = " ".join(" ".join(page.text).split())
    assert "burst" in text and "confidence 87 %" in text
    assert "hash distance: 3" in text and "note: same framing" in text
    assert "sharpest of the burst" in text and "motion blur" in text, "the scorer's own words win"
    assert '<option>burst</option>' in html, "a kind filter when groups have kinds"
    sections = page.all("section", "group")
    assert [s["data-conf"] for s in sections] == ["87", ""]
    assert [s["data-kind"] for s in sections] == ["burst", ""]
    assert len(page.all("div", "noimg")) == 4, "no thumbnail: a placeholder, not a broken image"
    plain = write(tmp_path, report_of([bare]))
    assert 'id="conf"' not in plain and 'id="kind"' not in plain and "confidence" not in Page(plain).text


def test_numeric_parts_are_put_in_words():
    photos = [photo("best", "A.jpg", {"sharpness": 1.0, "exposure": 0.7, "resolution": 1.0, "file_size": 1.0}),
              photo("blur", "B.jpg", {"sharpness": 0.2, "exposure": 1.0, "resolution": 1.0, "file_size": 0.9}),
              photo("bad", "C.jpg", {"unreadable": 1.0})]
    words = pr.explain_group(photos, "best")
    assert words["best"][0] == "the sharpest", "a part every member ties on (resolution) is not a reason"
    assert words["best"][1] == "though exposure 70 % of the best"
    assert words["blur"][0] == "less sharp (20 % of the sharpest)"
    assert words["blur"][-1] == "but the best exposed"
    assert not any("file" in w for w in words["blur"]), "a shortfall that barely moves the score is left out"
    assert words["bad"] == ["could not be read for scoring"]
    faces = pr.explain_group([photo("x", "X", {"faces": 1.0, "eyes_open": 1.0}),
                              photo("y", "Y", {"faces": 0.0, "eyes_open": 0.0})], "x")
    assert faces["y"] == ["eyes closed", "no face found"]
    assert faces["x"] == ["eyes the most open, the most faces visible"]


def faces_group() -> dict[str, Any]:
    """A group as the best-shot stage writes it: a sentence and the faces that decided, per photo."""
    left, right = [0.1, 0.2, 0.2, 0.3], [0.6, 0.2, 0.2, 0.3]
    return {"id": "g1", "index": 1, "best": "a", "photos": [
        photo("a", "A.jpg", {"sharpness": 1.0, "sharpness_raw": 123.45,
                             "why": "Kept: the only frame where both people have their eyes open; the sharpest.",
                             "face_boxes": [{"box": left, "who": "the person on the left", "eyes": "open"},
                                            {"box": right, "who": "the person on the right", "eyes": "open"}]}),
        photo("b", "B.jpg", {"sharpness": 0.9, "sharpness_raw": 100.0,
                             "why": "The person on the left's eyes are closed; a passer-by's face (not counted).",
                             "face_boxes": [{"box": left, "who": "the person on the left", "eyes": "closed"},
                                            {"box": right, "who": "the person on the right", "eyes": "half closed"},
                                            {"box": [0.85, 0.9, 0.3, 0.3], "who": "passer-by", "eyes": ""},
                                            {"box": "broken"}, {"box": [0.1, 0.1, 0.0, 0.2], "who": "x"}]})]}


def test_faces_that_decided_are_drawn_over_the_thumbnails_coloured_by_eyes(tmp_path):
    html = write(tmp_path, report_of([faces_group()]), {"a": jpeg(), "b": jpeg()})
    page = assert_self_contained(html)
    faces = page.all("span", "face")
    assert [(f["class"], f["title"]) for f in faces] == [
        ("face eyes-open", "the person on the left: eyes open"),
        ("face eyes-open", "the person on the right: eyes open"),
        ("face eyes-closed", "the person on the left: eyes closed"),
        ("face eyes-half-closed", "the person on the right: eyes half closed"),
        ("face passer-by", "a passer-by (not counted)")], "one box per good face; malformed ones left out"
    assert faces[0]["style"] == "left:10.00%;top:20.00%;width:20.00%;height:30.00%"
    assert faces[4]["style"] == "left:85.00%;top:90.00%;width:15.00%;height:10.00%", "kept inside the frame"
    # each box sits in the frame of its own thumbnail, which the image sizes
    assert html.count('<span class="frame"><img') == 2
    assert "eyes open" in " ".join(page.text) and "Faces:" in html, "a legend says what the colours mean"


def test_every_photo_shows_its_own_sentence_and_no_internal_name(tmp_path):
    html = write(tmp_path, report_of([faces_group()]), {"a": jpeg(), "b": jpeg()})
    page = Page(html)
    reasons = [a for t, a in page.tags if t == "div" and a.get("class") == "reason"]
    assert len(reasons) == 2, "the best shot's sentence is under its thumbnail too"
    text = " ".join(" ".join(page.text).split())
    assert "Kept: the only frame where both people have their eyes open; the sharpest." in text
    assert "The person on the left's eyes are closed; a passer-by's face (not counted)." in text
    assert "_raw" not in text and "face_boxes" not in text and "{'" not in text


def test_evidence_is_put_in_words_never_a_python_dict(tmp_path):
    evidence = {"method": "orb-detail-v2", "pairs_confirmed": 3,
                "weakest_link": {"inliers": 210, "coverage": 0.7123, "agreement": 0.83, "scale": "half"},
                "lenient_pairs": 1, "weakest_lenient_link": {"inliers": 130, "coverage": 0.5, "agreement": 0.61,
                                                             "subject_inliers": 12, "cell_diff": 40.4},
                "odd_thing": {"some_key": 0.12345, "nested": {"deep_key": [1, 2]}, "flag": True}}
    lines = pr._evidence_lines(evidence)
    assert lines == [
        "checked frame against frame: matching points and fine detail",
        "3 pairs of frames confirmed",
        "weakest link: 210 matching points, 71 % of the frame covered, detail agrees 83 %, compared at half size",
        "1 pair joined by its burst name",
        "weakest link joined by burst name: 130 matching points, 12 of them on the subject that moved, "
        "50 % of the frame covered, detail agrees 61 %, largest patch difference 40 of 255",
        "odd thing: some key 0.123, nested deep key 1, 2, flag yes"]
    group = {"id": "g", "index": 1, "best": "a", "evidence": evidence,
             "photos": [photo("a", "A.jpg"), photo("b", "B.jpg")]}
    html = write(tmp_path, report_of([group]))
    assert "{'" not in html and "{&#39;" not in html and "weakest_link" not in html


def test_the_actions_fact_says_what_the_run_does_not_its_checks(tmp_path):
    local = Page(write(tmp_path, report_of([], verify=True, resume=False, output="/out")))
    facts = " ".join(" ".join(local.text).split())
    assert "Actions copy each group to its own folder in Output" in facts and "verify" not in facts
    immich = Page(write(tmp_path, report_of([], verify=False, actions="tag+stack")))
    facts = " ".join(" ".join(immich.text).split())
    assert "Actions tag each group, stack each group under its best" in facts
    assert "Checked frame by frame no" in facts
    report_only = " ".join(Page(write(tmp_path, report_of([], verify=True, actions="report-only"))).text)
    assert "nothing changed in Immich" in report_only


def test_the_page_is_written_as_a_stream_one_group_at_a_time():
    """Thumbnails are read while the page is produced, not all first (flat memory on 100k photos)."""
    calls: list[str] = []

    def thumbs(pid: str) -> bytes:
        calls.append(pid)
        return jpeg()

    groups = [{"id": f"g{n}", "index": n, "best": f"p{n}", "photos": [photo(f"p{n}", "A.jpg"),
                                                                        photo(f"q{n}", "B.jpg")]}
              for n in range(200)]
    chunks = pr.render_chunks(report_of(groups), thumbs)
    seen = ""
    while "p1" not in calls:
        seen += next(chunks)
    assert len(calls) <= 4, "only the first groups' thumbnails are read when their HTML is produced"
    rest = "".join(chunks)
    assert len(calls) == 400 and "Group 199" in rest


def test_scoring_images_are_kept_only_while_collecting():
    image = np.zeros((900, 1200, 3), dtype=np.uint8)
    image[:, 600:] = (255, 0, 0)
    pr.offer_scoring_image("outside", image)  # no active spool: nothing happens, nothing fails
    with pr.ThumbnailSpool() as spool:
        with spool.collecting():
            pr.offer_scoring_image("a", image)
            pr.offer_scoring_image("none", None)
        pr.offer_scoring_image("after", image)
        assert "a" in spool and "none" not in spool and "after" not in spool
        thumb = Image.open(io.BytesIO(spool.get("a") or b""))
        assert thumb.format == "WEBP" and max(thumb.size) == pr.THUMB_SIDE
        assert thumb.getpixel((180, 75))[2] > 200, "BGR in, right colours out"
        assert len(spool.get("a") or b"") < 6_000


def test_thumbnails_made_in_a_pass_are_written_through_to_the_cache(tmp_path):
    """A pass killed midway leaves the thumbnails it made for its resume's page."""
    cache = pr.immich_thumbnail_cache(tmp_path, "Vacation 2024")
    assert cache.folder == tmp_path / "report-thumbs" / "album-Vacation_2024"
    spool = pr.ThumbnailSpool(cache=cache)
    with spool.collecting():
        pr.offer_scoring_image("a", np.zeros((30, 40, 3), dtype=np.uint8), "00ff")
    files = list(cache.folder.iterdir())  # at once, before any report or close
    assert [f.name for f in files] == ["a-00ff.thumb"] and files[0].read_bytes() == spool.get("a")
    spool.close()


def test_picture_path_never_replaces_the_json(tmp_path):
    assert pr.picture_path_for(tmp_path / "latest.json") == tmp_path / "latest.html"
    assert pr.picture_path_for(tmp_path / "r.html") == tmp_path / "r.pictures.html"


# --------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    from photo_factory import make_library, save_jpeg, scene

    root = tmp_path_factory.mktemp("photos")
    make_library(root, bursts=2, burst_size=3, singles=1)
    from datetime import datetime, timedelta

    t0 = datetime(2024, 8, 1, 12, 0, 0)
    for k in range(2):  # a hostile file name in a group of its own
        save_jpeg(scene(77), root / "evil" / (EVIL if k == 0 else f"copy{k}.jpg"), t0 + timedelta(seconds=k))
    return root


def grouped_ids(report: dict[str, Any]) -> set[str]:
    return {p["id"] for g in report["groups"] for p in g["photos"]}


def figure_ids(page: Page) -> set[str]:
    return {f["data-id"] for f in page.all("figure")}


def test_local_run_writes_the_page_beside_the_json_and_a_dated_copy(library, tmp_path):
    out = tmp_path / "out"
    proc = run_cli("-s", str(library), "-o", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    page_path = out / "reports" / "latest.html"
    assert f"Picture report:     {page_path}" in proc.stdout
    report = load_report(out / "reports" / "latest.json")
    html = page_path.read_text(encoding="utf-8")
    page = assert_self_contained(html)
    assert figure_ids(page) == grouped_ids(report) and len(grouped_ids(report)) == 8
    assert len(page.all("img")) == 8, "every grouped photo has its thumbnail"
    assert [f["data-id"] for f in page.all("figure", "best")] == [g["best"] for g in report["groups"]]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.jpg" in html and "<script>alert" not in html
    dated = sorted((out / "reports").glob("run-*.html"))
    assert len(dated) == 1 and dated[0].read_bytes() == page_path.read_bytes()
    assert dated[0].with_suffix(".json").exists()


def test_dry_run_writes_the_page_too(library, tmp_path):
    out = tmp_path / "out"
    proc = run_cli("-s", str(library), "-o", str(out), "--dry-run", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    html = (out / "reports" / "latest.html").read_text(encoding="utf-8")
    page = assert_self_contained(html)
    assert len(page.all("img")) == 8
    assert "this is what the run would do" in html and "would copy to group_0001/" in html
    assert not list((out / "reports").glob("run-*")), "a dry run keeps no dated copies"


def test_resumed_groups_get_thumbnails_from_their_files(library, tmp_path):
    """Groups the pass did not score itself (here: all, faked as resumed) are read from disk."""
    report = {"groups": [{"id": "g", "index": 1, "best": "x", "photos": [
        {"id": "x", "name": "x.jpg", "path": str(next(library.rglob("IMG_0001.jpg")))},
        {"id": "gone", "name": "gone.jpg", "path": str(library / "missing.jpg")}]}]}
    path = pr.write_picture_report(tmp_path / "p.html", report, fetch=pr.local_fetch)
    page = assert_self_contained(path.read_text())
    assert len(page.all("img")) == 1 and len(page.all("div", "noimg")) == 1, "a vanished file: a placeholder"


def test_fetching_gives_up_when_nothing_works():
    calls: list[str] = []

    def broken(photo: dict[str, Any]) -> bytes:
        calls.append(photo["id"])
        raise ConnectionError("server gone")

    report = {"groups": [{"id": "g", "photos": [{"id": str(n)} for n in range(100)]}]}
    with pr.ThumbnailSpool() as spool:
        assert pr.fill_missing(spool, report, broken) == 0
    assert len(calls) == pr.GIVE_UP_AFTER


def test_immich_run_writes_the_page_without_extra_downloads(fake_immich, tmp_path):
    from immich_helpers import seed_bursts

    bursts = seed_bursts(fake_immich, bursts=3, burst_size=3, singles=2)
    fake_immich.store.assets[bursts[1][1]].file_name = EVIL
    env = {"IMMICH_URL": fake_immich.url, "IMMICH_API_KEY": fake_immich.api_key,
           "STATE_DIR": str(tmp_path / "state")}
    page_path = tmp_path / "state" / "reports" / "library-latest.html"
    dry = run_cli("--source-type", "immich", "--tag-only", "--dry-run", "--no-progress", **env)
    assert dry.returncode == 0, dry.stderr
    html = page_path.read_text(encoding="utf-8")
    assert len(assert_self_contained(html).all("img")) == 9 and "would tag assets" in html
    assert fake_immich.writes() == [] and not (tmp_path / "state" / "report-thumbs").exists()

    fake_immich.clear_log()
    proc = run_cli("--source-type", "immich", "--tag-only", "--no-progress", **env)
    assert proc.returncode == 0, proc.stderr
    assert f"Picture report:     {page_path}" in proc.stdout
    html = page_path.read_text(encoding="utf-8")
    page = assert_self_contained(html)
    wanted = {i for b in bursts for i in b}
    assert figure_ids(page) == wanted and len(page.all("img")) == 9
    assert {f["data-id"] for f in page.all("figure", "best")} == {b[0] for b in bursts}
    assert "<script>alert" not in html
    # 11 small thumbnails to hash + 9 previews to score, as without the page: nothing fetched twice
    assert len(fake_immich.requests_to("/thumbnail")) == 11 + 9

    # The next pass finds the groups unchanged and scores nothing: the page takes the thumbnails
    # the last run kept, and the pass stays download-free.
    fake_immich.clear_log()
    again = run_cli("--source-type", "immich", "--tag-only", "--no-progress", **env)
    assert again.returncode == 0, again.stderr
    page = assert_self_contained(page_path.read_text(encoding="utf-8"))
    assert figure_ids(page) == wanted and len(page.all("img")) == 9
    assert fake_immich.requests_to("/thumbnail") == []
    cache = tmp_path / "state" / "report-thumbs" / "library"
    assert len(list(cache.iterdir())) == 9

    # Without that cache only the grouped photos' small thumbnails are fetched (9), nothing else.
    shutil.rmtree(cache)
    fake_immich.clear_log()
    third = run_cli("--source-type", "immich", "--tag-only", "--no-progress", **env)
    assert third.returncode == 0, third.stderr
    assert len(assert_self_contained(page_path.read_text(encoding="utf-8")).all("img")) == 9
    thumbs = fake_immich.requests_to("/thumbnail")
    assert len(thumbs) == 9 and all(e["query"].get("size") == "thumbnail" for e in thumbs), thumbs
    assert len(list(cache.iterdir())) == 9


def test_the_thumbnail_cache_forgets_photos_in_no_group(tmp_path):
    cache = pr.ThumbnailCache(tmp_path / "cache")
    report = {"groups": [{"id": "g", "photos": [{"id": "a", "hash": "01"}, {"id": "b/../x", "hash": "02"}]}]}
    with pr.ThumbnailSpool() as spool:
        spool.put("a", b"A")
        spool.put("b/../x", b"B")
        cache.keep(spool, report)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["a-01.thumb", "b_.._x-02.thumb"]
    report["groups"][0]["photos"] = [{"id": "a", "hash": "01"}, {"id": "c", "hash": "03"}]
    with pr.ThumbnailSpool() as spool:
        assert cache.fill(spool, report) == 1 and spool.get("a") == b"A" and "c" not in spool
        spool.put("c", b"C")
        cache.keep(spool, report)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["a-01.thumb", "c-03.thumb"]
