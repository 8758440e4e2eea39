"""Contract: the fake Immich answers like the real Immich v3.1.0 server.

Each test runs one scenario, request for request, against both servers (the real one from
../shared/immich-real as a fresh user, the fake in memory) and compares what the project relies on:
which fields are present and absent, status codes and error messages, how tag deletion, stack
merging and shared albums behave. The real server's answers are also asserted outright, so the test
documents what Immich does and fails if both servers change alike.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from photo_factory import scene, variant
from real_immich import ImmichUser

UNKNOWN = "00000000-0000-4000-8000-000000000000"
START = datetime(2024, 7, 14, 9, 0, tzinfo=UTC)


@dataclass
class Side:
    """One server as a test talks to it: its first user and a way to make another."""

    name: str
    user: ImmichUser
    new_user: Callable[[str], ImmichUser]
    #: wait for the server's background sidecar jobs (the fake has none)
    settle: Callable[[], object] = lambda: None


@pytest.fixture
def sides(fake_immich, immich, real_immich_server) -> list[Side]:
    def fake_user(label: str) -> ImmichUser:
        u = fake_immich.store.add_user(label)
        return ImmichUser(fake_immich.url, u.api_key, u.id, u.email)

    first = ImmichUser(fake_immich.url, fake_immich.api_key, fake_immich.user.id, fake_immich.user.email)
    return [Side("real", immich, real_immich_server.new_user, real_immich_server.wait_sidecars),
            Side("fake", first, fake_user)]


def both(sides: list[Side], scenario: Callable[[Side], dict[str, Any]]) -> dict[str, Any]:
    """Run the scenario on each server; the fake's observations must equal the real one's."""
    seen = {side.name: scenario(side) for side in sides}
    real, fake = seen["real"], seen["fake"]
    diff = {k: {"real": real.get(k), "fake": fake.get(k)} for k in sorted(set(real) | set(fake))
            if real.get(k) != fake.get(k)}
    assert not diff, f"the fake differs from the real server: {diff}"
    return real


def raw(user: ImmichUser, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    resp = user.session.request(method, f"{user.url}/api{path}", timeout=60, **kw)
    try:
        body = resp.json()
    except ValueError:
        body = None
    return resp.status_code, body


def status_message(user: ImmichUser, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    code, body = raw(user, method, path, **kw)
    return code, body.get("message") if isinstance(body, dict) else body


def upload(user: ImmichUser, n: int, seed: int, size: tuple[int, int] = (160, 120), prefix: str = "P") -> list[str]:
    ids = [user.upload(variant(scene(seed, size), k), f"{prefix}{k}.jpg", START + timedelta(seconds=k), wait=False)
           for k in range(n)]
    user.wait_ready(ids)
    return ids


def search(user: ImmichUser, **body: Any) -> dict[str, Any]:
    return user.call("POST", "/search/metadata", json={"page": 1, "size": 100, **body})["assets"]


# ---------------------------------------------------------------------------------------------- shapes
def test_which_fields_each_endpoint_carries(sides):
    def scenario(side: Side) -> dict[str, Any]:
        u = side.user
        a, b = upload(u, 2, seed=11)
        stack_id = u.make_stack([a, b])
        u.tag("contract/one", [a])
        album = u.make_album("Contract", [a, b])
        item = search(u, withStacked=True, withExif=True)["items"][0]
        plain = search(u)["items"][0]
        asset = u.asset(a)
        listed = u.stacks()[0]
        one = u.call("GET", f"/stacks/{stack_id}")
        album_json = u.call("GET", f"/albums/{album}")
        images = {}
        for size in ("thumbnail", "preview", "fullsize"):
            r = u.session.get(f"{u.url}/api/assets/{a}/thumbnail", params={"size": size}, timeout=60)
            images[size] = (r.status_code, r.headers.get("Content-Type"))
        original = u.session.get(f"{u.url}/api/assets/{a}/original", timeout=60).content
        fullsize = u.session.get(f"{u.url}/api/assets/{a}/thumbnail", params={"size": "fullsize"}, timeout=60)
        return {
            "image kinds": images,
            "fullsize of a JPEG is the original": fullsize.content == original,
            "search item keys": sorted(item),
            "search item without withExif has exifInfo": "exifInfo" in plain,
            "search item ownerId is mine": item["ownerId"] == u.id,
            "asset keys": sorted(asset),
            "asset stack": (asset["stack"]["primaryAssetId"] == a, asset["stack"]["assetCount"]),
            "asset tags": [t["value"] for t in asset["tags"]],
            "asset exif capture time": asset["exifInfo"]["dateTimeOriginal"][:19],
            "asset default visibility": asset["visibility"],
            "GET /stacks asset keys": sorted(listed["assets"][0]),
            "GET /stacks/{id} asset keys": sorted(one["assets"][0]),
            "GET /albums/{id} keys": sorted(k for k in album_json if k in ("assets", "assetCount", "shared")),
            "album assetCount": album_json["assetCount"],
            "album thumbnail is a member": album_json["albumThumbnailAssetId"] in (a, b),
        }

    real = both(sides, scenario)
    assert "stack" not in real["search item keys"] and "tags" not in real["search item keys"]
    assert "stack" in real["asset keys"] and "tags" in real["asset keys"] and "ownerId" in real["asset keys"]
    assert "tags" not in real["GET /stacks asset keys"] and "tags" in real["GET /stacks/{id} asset keys"]
    assert real["GET /albums/{id} keys"] == ["assetCount", "shared"], "no asset list in an album"
    assert real["asset default visibility"] == "timeline"


def test_search_pages_total_is_the_page_count_and_filters(sides):
    def scenario(side: Side) -> dict[str, Any]:
        u = side.user
        ids = upload(u, 5, seed=12)
        pages = []
        page: Any = 1
        while page:
            body = u.call("POST", "/search/metadata", json={"page": int(page), "size": 2})["assets"]
            pages.append((body["total"], body["count"], len(body["items"]), body["nextPage"]))
            page = body["nextPage"]
        u.make_stack(ids[:2])
        u.update([ids[2]], visibility="archive")
        u.update([ids[3]], visibility="hidden")
        u.update([ids[4]], isFavorite=True)
        idx = {x: i for i, x in enumerate(ids)}

        def found(**body: Any) -> list[int]:
            return sorted(idx[x["id"]] for x in search(u, **body)["items"])

        return {
            "pages (total, count, items, nextPage)": pages,
            "default": found(), "withStacked true": found(withStacked=True),
            "withStacked false": found(withStacked=False),
            "timeline": found(visibility="timeline"), "archive": found(visibility="archive"),
            "hidden": found(visibility="hidden"), "favourite": [idx[x["id"]] for x in search(u)["items"]
                                                                if x["isFavorite"]],
            "updatedAfter future": found(updatedAfter="2099-01-01T00:00:00.000Z"),
            "PUT /assets/{id}": raw(u, "PUT", f"/assets/{ids[4]}", json={"isFavorite": False})[0],
        }

    real = both(sides, scenario)
    assert real["pages (total, count, items, nextPage)"] == [(2, 2, 2, "2"), (2, 2, 2, "3"), (1, 1, 1, None)]
    assert real["default"] == [0, 1, 2, 3, 4], "hidden and archived photos are listed without a filter"
    assert real["withStacked false"] == [2, 3, 4], "withStacked false leaves out stacked photos, primary too"


def test_thumbnail_404_right_after_upload(sides, fake_immich):
    def scenario(side: Side) -> dict[str, Any]:
        u = side.user
        data = variant(scene(13, (160, 120)), 0)
        asset_id = u.upload(data, "fresh.jpg", START, wait=False)
        early = status_message(u, "GET", f"/assets/{asset_id}/thumbnail")
        u.wait_ready([asset_id])
        late = raw(u, "GET", f"/assets/{asset_id}/thumbnail")[0]
        return {"right after upload": early, "once ready": late}

    real = both(sides, scenario)
    assert real["right after upload"] == (404, "Asset media not found")
    # the fake on demand, for any asset at any time: the same answer
    from fake_immich import Fault

    fake = sides[1].user
    (asset_id,) = [x["id"] for x in search(fake)["items"]]
    fake_immich.faults.rules = [Fault("notready", f"/assets/{asset_id}/thumbnail", times=1)]
    assert status_message(fake, "GET", f"/assets/{asset_id}/thumbnail") == real["right after upload"]
    assert raw(fake, "GET", f"/assets/{asset_id}/thumbnail")[0] == 200


# ---------------------------------------------------------------------------------------------- tags
def test_tag_links_and_deleting_a_parent_deletes_its_children_and_their_links(sides):
    def scenario(side: Side) -> dict[str, Any]:
        u = side.user
        ids = upload(u, 3, seed=14)
        made = u.call("PUT", "/tags", json={"tags": ["po/best", "po/group-1/x"]})
        tags = {t["value"]: t for t in u.tags()}
        best, leaf, parent = tags["po/best"]["id"], tags["po/group-1/x"]["id"], tags["po"]["id"]
        out: dict[str, Any] = {
            "upsert answer": [(t["name"], t["value"], t.get("parentId") == tags[t["value"].rsplit("/", 1)[0]]["id"])
                              for t in made],
            "all tags": sorted(tags),
            "tag": u.call("PUT", "/tags/assets", json={"tagIds": [best, leaf], "assetIds": ids[:2]}),
            "tag again": u.call("PUT", "/tags/assets", json={"tagIds": [best], "assetIds": ids}),
            "untag": [(r["success"], r.get("error")) for r in
                      u.call("DELETE", f"/tags/{best}/assets", json={"ids": [ids[2], ids[1]]})],
        }
        out["tags of first"] = sorted(t["value"] for t in u.asset(ids[0])["tags"])
        side.settle()  # a sidecar write still queued would bring the deleted tags back from the XMP
        out["delete parent"] = raw(u, "DELETE", f"/tags/{parent}")[0]
        out["tags after"] = [t["value"] for t in u.tags()]
        out["links after"] = [u.asset(x)["tags"] for x in ids]
        out["untag with a deleted tag"] = status_message(u, "DELETE", f"/tags/{best}/assets", json={"ids": ids})
        out["tag with a deleted tag"] = raw(u, "PUT", "/tags/assets", json={"tagIds": [best], "assetIds": ids})
        out["delete a deleted tag"] = status_message(u, "DELETE", f"/tags/{leaf}")
        return out

    real = both(sides, scenario)
    assert real["tags after"] == [] and real["links after"] == [[], [], []]
    assert real["untag with a deleted tag"] == (400, "Not found or no tag.asset access")
    assert real["tag with a deleted tag"] == (200, {"count": 0})


# ---------------------------------------------------------------------------------------------- stacks
def test_stacks_merge_a_primary_and_move_a_member(sides):
    def scenario(side: Side) -> dict[str, Any]:
        u = side.user
        ids = upload(u, 6, seed=15)
        a, b, c, d, e, f = ids
        name = dict(zip(ids, "ABCDEF", strict=True))

        def stacks() -> list[tuple[str, list[str]]]:  # members in no particular order on the real server
            return sorted((name[st["primaryAssetId"]], sorted(name[x["id"]] for x in st["assets"]))
                          for st in u.stacks())

        out: dict[str, Any] = {}
        first = u.make_stack([a, b])
        moved = u.call("POST", "/stacks", json={"assetIds": [c, b]})  # B is not a primary: it moves
        out["after moving B"] = stacks()
        out["answer"] = (name[moved["primaryAssetId"]], sorted(name[x["id"]] for x in moved["assets"]),
                         sorted(moved["assets"][0]))
        out["A's own stack field"] = u.asset(a)["stack"]
        out["B's stack"] = u.asset(b)["stack"]["assetCount"]
        out["lone stack by primary"] = [len(st["assets"]) for st in
                                        u.call("GET", "/stacks", params={"primaryAssetId": a})]
        out["withStacked false"] = sorted(name[x["id"]] for x in search(u, withStacked=False)["items"])
        merged = u.call("POST", "/stacks", json={"assetIds": [d, a]})  # A is the lone stack's primary: merged
        out["after stacking D+A"] = stacks()
        out["lone stack gone"] = status_message(u, "GET", f"/stacks/{first}")
        again = u.call("POST", "/stacks", json={"assetIds": [c, e]})  # C is a primary: its stack is merged in
        out["after stacking C+E"] = stacks()
        out["merged keeps the id"] = again["id"] == moved["id"]
        u.call("POST", "/stacks", json={"assetIds": [e, f]})  # E leaves C's stack for a new one
        out["after stacking E+F"] = stacks()
        u.update([b], visibility="archive")  # C's stack is now C (primary) and B (archived)
        out["stack field with the other member archived"] = [u.asset(x)["stack"] for x in (b, c)]
        u.update([b], visibility="timeline")
        u.update([c], visibility="archive")
        out["stack field with the primary archived"] = [u.asset(x)["stack"]["assetCount"] for x in (b, c)]
        u.update([f], visibility="hidden")  # E's stack: E (primary) and F (hidden)
        out["stack field with the other member hidden"] = u.asset(e)["stack"]
        u.update([f], visibility="timeline")
        out["new primary not a member"] = status_message(u, "PUT", f"/stacks/{merged['id']}",
                                                         json={"primaryAssetId": f})
        return out

    real = both(sides, scenario)
    assert real["after moving B"] == [("A", ["A"]), ("C", ["B", "C"])], "the old stack keeps its one photo"
    assert real["A's own stack field"] is None
    assert real["after stacking D+A"] == [("C", ["B", "C"]), ("D", ["A", "D"])]
    assert real["after stacking C+E"] == [("C", ["B", "C", "E"]), ("D", ["A", "D"])]
    assert real["stack field with the other member archived"] == [None, None], "archived members are not counted"
    assert real["stack field with the primary archived"] == [2, 2]


# ---------------------------------------------------------------------------------------------- errors
def test_errors_for_unknown_ids_and_keys(sides):
    def scenario(side: Side) -> dict[str, Any]:
        u = side.user
        (a,) = upload(u, 1, seed=16)
        album = u.make_album("Errors", [a])
        wrong = ImmichUser(u.url, "not-a-key", "x", "x")
        nokey = ImmichUser(u.url, "", "x", "x")
        nokey.session.headers.pop("x-api-key")
        return {
            "wrong key": status_message(wrong, "GET", "/users/me"),
            "no key": status_message(nokey, "GET", "/users/me"),
            "ping without key": raw(nokey, "GET", "/server/ping"),
            "GET asset": status_message(u, "GET", f"/assets/{UNKNOWN}"),
            "thumbnail": status_message(u, "GET", f"/assets/{UNKNOWN}/thumbnail"),
            "original": status_message(u, "GET", f"/assets/{UNKNOWN}/original"),
            "PUT assets": status_message(u, "PUT", "/assets", json={"ids": [UNKNOWN], "isFavorite": True}),
            "GET album": status_message(u, "GET", f"/albums/{UNKNOWN}"),
            "search album": status_message(u, "POST", "/search/metadata", json={"albumIds": [UNKNOWN]}),
            "add to album": status_message(u, "PUT", f"/albums/{UNKNOWN}/assets", json={"ids": [a]}),
            "add unknown asset": [(r["success"], r.get("error")) for r in
                                  u.call("PUT", f"/albums/{album}/assets", json={"ids": [a, UNKNOWN]})],
            "remove absent": [(r["success"], r.get("error")) for r in
                              u.call("DELETE", f"/albums/{album}/assets", json={"ids": [UNKNOWN]})],
            "create with unknown asset": u.call("POST", "/albums", json={"albumName": "X",
                                                                          "assetIds": [UNKNOWN]})["assetCount"],
            "delete album": raw(u, "DELETE", f"/albums/{album}")[0],
            "delete album again": status_message(u, "DELETE", f"/albums/{album}"),
            "GET stack": status_message(u, "GET", f"/stacks/{UNKNOWN}"),
            "PUT stack": status_message(u, "PUT", f"/stacks/{UNKNOWN}", json={"primaryAssetId": a}),
            "DELETE stack": status_message(u, "DELETE", f"/stacks/{UNKNOWN}"),
            "stack unknown asset": status_message(u, "POST", "/stacks", json={"assetIds": [a, UNKNOWN]}),
            "DELETE tag": status_message(u, "DELETE", f"/tags/{UNKNOWN}"),
        }

    real = both(sides, scenario)
    assert real["wrong key"] == (401, "Invalid API key")
    assert real["GET asset"] == (400, "Not found or no asset.read access")


# ---------------------------------------------------------------------------------------------- originals
def test_original_download_and_range(sides):
    def scenario(side: Side) -> dict[str, Any]:
        u = side.user
        data_img = scene(17, (640, 480))
        asset_id = u.upload(data_img, "big.jpg", START, wait=True)
        url = f"{u.url}/api/assets/{asset_id}/original"
        full = u.session.get(url, timeout=60)
        head = u.session.get(url, headers={"Range": "bytes=0-65535"}, timeout=60)
        beyond = u.session.get(url, headers={"Range": f"bytes=0-{10 * len(full.content)}"}, timeout=60)
        suffix = u.session.get(url, headers={"Range": "bytes=-10"}, timeout=60)
        unsat = u.session.get(url, headers={"Range": f"bytes={10 * len(full.content)}-"}, timeout=60)
        n = len(full.content)
        return {
            "full": (full.status_code, full.headers.get("Content-Type"), full.headers.get("Accept-Ranges"),
                     n > 65536),
            "head": (head.status_code, head.headers.get("Content-Range") == f"bytes 0-65535/{n}",
                     head.content == full.content[:65536]),
            "beyond": (beyond.status_code, beyond.headers.get("Content-Range") == f"bytes 0-{n - 1}/{n}",
                       beyond.content == full.content),
            "suffix": (suffix.status_code, suffix.content == full.content[-10:]),
            "unsatisfiable": (unsat.status_code, unsat.headers.get("Content-Range") == f"bytes */{n}"),
        }

    real = both(sides, scenario)
    assert real["head"] == (206, True, True)


# ---------------------------------------------------------------------------------------------- other users
def test_an_album_shared_by_another_user(sides):
    def scenario(side: Side) -> dict[str, Any]:
        me = side.user
        other = side.new_user("owner")
        (mine,) = upload(me, 1, seed=18, prefix="MINE")
        theirs = upload(other, 3, seed=19, prefix="THEIRS")
        album = other.make_album("Theirs", theirs[:2])
        shared = raw(other, "PUT", f"/albums/{album}/users", json={"albumUsers": [{"userId": me.id}]})
        my_tag = me.call("PUT", "/tags", json={"tags": ["po/x"]})[-1]["id"]
        own_album = me.make_album("Mine", [mine])
        listed = search(me, albumIds=[album], withExif=True)
        return {
            "share": (shared[0], shared[1]["shared"], sorted(x["role"] for x in shared[1]["albumUsers"])),
            "my albums": sorted((x["albumName"], x["shared"], x["assetCount"]) for x in me.albums()),
            "album search": sorted((x["originalFileName"], x["ownerId"] == other.id) for x in listed["items"]),
            "library search": sorted(x["originalFileName"] for x in search(me)["items"]),
            "read theirs": raw(me, "GET", f"/assets/{theirs[0]}")[0],
            "read theirs outside the album": status_message(me, "GET", f"/assets/{theirs[2]}"),
            "thumbnail": raw(me, "GET", f"/assets/{theirs[0]}/thumbnail")[0],
            "original": raw(me, "GET", f"/assets/{theirs[0]}/original")[0],
            "favourite theirs": status_message(me, "PUT", "/assets", json={"ids": [theirs[0]], "isFavorite": True}),
            "favourite mixed": status_message(me, "PUT", "/assets", json={"ids": [mine, theirs[0]],
                                                                           "isFavorite": True}),
            "mine unchanged": me.asset(mine)["isFavorite"],
            "stack theirs": status_message(me, "POST", "/stacks", json={"assetIds": theirs[:2]}),
            "tag theirs and mine": me.call("PUT", "/tags/assets", json={"tagIds": [my_tag],
                                                                         "assetIds": [theirs[0], mine]}),
            "their tags": other.asset(theirs[0])["tags"],
            "untag theirs": [(r["success"], r.get("error")) for r in
                             me.call("DELETE", f"/tags/{my_tag}/assets", json={"ids": [theirs[0]]})],
            "add theirs to my album": [(r["success"], r.get("error")) for r in
                                       me.call("PUT", f"/albums/{own_album}/assets", json={"ids": [theirs[0]]})],
            "add mine to their album": [(r["success"], r.get("error")) for r in
                                        me.call("PUT", f"/albums/{album}/assets", json={"ids": [mine]})],
            "albums of their photo": [x["albumName"] for x in me.call("GET", "/albums",
                                                                       params={"assetId": theirs[0]})],
            "delete their album": status_message(me, "DELETE", f"/albums/{album}"),
        }

    real = both(sides, scenario)
    assert real["album search"] == [("THEIRS0.jpg", True), ("THEIRS1.jpg", True)]
    assert real["library search"] == ["MINE0.jpg"]
    assert real["favourite theirs"] == (400, "Not found or no asset.update access")


# ---------------------------------------------------------------------------------------------- cursor
def test_which_writes_move_updated_at(sides):
    def scenario(side: Side) -> dict[str, Any]:
        u = side.user
        ids = upload(u, 6, seed=20)
        time.sleep(1.1)
        newest = max(datetime.fromisoformat(u.asset(x)["updatedAt"].replace("Z", "+00:00")) for x in ids)
        mark = (newest + timedelta(milliseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        idx = {x: i for i, x in enumerate(ids)}

        def changed() -> list[int]:
            return sorted(idx[x["id"]] for x in search(u, updatedAfter=mark)["items"])

        out = {"nothing yet": changed()}
        u.update([ids[0]], isFavorite=True)
        out["favourite"] = changed()
        u.tag("cursor/x", [ids[1]])
        # the real server moves it a moment later (its sidecar write job), the fake at once
        deadline = time.monotonic() + 15
        while 1 not in changed() and time.monotonic() < deadline:
            time.sleep(0.2)
        out["tag (within 15 s)"] = changed()
        u.make_stack([ids[2], ids[3]])
        out["stack"] = changed()
        u.make_album("Cursor", [ids[4]])
        out["album"] = changed()
        u.update([ids[5]], visibility="archive")
        out["archive"] = changed()
        return out

    real = both(sides, scenario)
    assert real["album"] == [0, 1, 2, 3], "adding to an album does not move updatedAt"


# ---------------------------------------------------------------------------------------------- webhook
@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A tiny HTTP endpoint on 127.0.0.1 that records what a workflow's webhook step sends."""
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            got.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": json.loads(body)})
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", got
    finally:
        server.shutdown()
        thread.join(5)


def test_what_the_webhook_step_sends(sides, receiver):
    url, got = receiver

    def scenario(side: Side) -> dict[str, Any]:
        u = side.user
        got.clear()
        made = u.call("POST", "/workflows", json={
            "trigger": "AssetMetadataExtraction", "name": "contract", "enabled": True,
            "steps": [{"method": "immich-plugin-core#webhook",
                       "config": {"url": f"{url}/{side.name}", "method": "POST", "headerName": "X-Contract",
                                  "headerValue": "v"}}]})
        listed = u.call("GET", "/workflows")
        asset_id = u.upload(variant(scene(21, (160, 120)), 0), "hook.jpg", START, wait=True)
        deadline = time.monotonic() + 30
        while not got and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # anything more that comes (it should not)
        assert got, f"no webhook from the {side.name} server within 30 s"
        first = got[0]
        body, headers = first["body"], first["headers"]
        asset = body["data"]["asset"]
        return {
            "create answer steps": made["steps"],
            "listed steps": [(s["method"], sorted(s["config"])) for s in listed[0]["steps"]],
            "deliveries": len(got),
            "path": first["path"] == f"/{side.name}",
            "headers": (headers.get("content-type"), headers.get("user-agent", "")[:16], headers.get("x-contract")),
            "body keys": sorted(body), "type": body["type"], "trigger": body["trigger"],
            "data keys": sorted(body["data"]),
            "asset id": asset["id"] == asset_id, "owner": asset["ownerId"] == u.id,
            "checksum": (asset["checksum"]["type"], len(asset["checksum"]["data"])),
            "exif capture time": bool((asset.get("exifInfo") or {}).get("dateTimeOriginal")),
        }

    real = both(sides, scenario)
    assert real["create answer steps"] == [] and real["deliveries"] == 1
    assert real["headers"] == ("application/json", "immich-server/3.", "v")


def test_a_partner_shown_in_the_timeline(sides):
    def scenario(side: Side) -> dict[str, Any]:
        me = side.user
        partner = side.new_user("partner")
        (mine,) = upload(me, 1, seed=22, prefix="MINE")
        (theirs,) = upload(partner, 1, seed=23, prefix="THEIRS")
        made = raw(partner, "POST", "/partners", json={"sharedWithId": me.id})
        out: dict[str, Any] = {"share": (made[0], made[1]["id"] == me.id, made[1].get("inTimeline"))}
        out["before inTimeline"] = sorted(x["originalFileName"] for x in search(me)["items"])
        out["inTimeline"] = raw(me, "PUT", f"/partners/{partner.id}", json={"inTimeline": True})[0]
        listed = search(me, withExif=True, withStacked=True)["items"]
        out["library search"] = sorted((x["originalFileName"], x["ownerId"] == me.id) for x in listed)
        out["read theirs"] = raw(me, "GET", f"/assets/{theirs}")[0]
        out["favourite theirs"] = status_message(me, "PUT", "/assets", json={"ids": [theirs], "isFavorite": True})
        out["stack with theirs"] = status_message(me, "POST", "/stacks", json={"assetIds": [mine, theirs]})
        return out

    real = both(sides, scenario)
    assert real["library search"] == [("MINE0.jpg", True), ("THEIRS0.jpg", False)]
    assert real["favourite theirs"] == (400, "Not found or no asset.update access")
