"""The viewer in a real browser: Debian's Chromium driven by Playwright, WebGL through SwiftShader.

Skipped, with the reason, where /usr/bin/chromium or the `playwright` package
is missing (CI installs both: see the report of the explore issue).  The
pages are served from 127.0.0.1 by omnivec's own map server, and any request
to another host fails the test: the map must work offline.
"""

import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import omnivec
from omnivec.explore import build_map
from omnivec.explore.server import OnDemandNeighbors, make_server

from explore_helpers import glove20k

CHROMIUM = Path(os.environ.get("OMNIVEC_CHROMIUM", "/usr/bin/chromium"))
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium chromium-driver)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the 'playwright' package is not installed "
                               "(pip install playwright; the system Chromium is used, no browser download)")

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
SHOTS = Path(os.environ.get("OMNIVEC_SCREENSHOTS", "")) if os.environ.get("OMNIVEC_SCREENSHOTS") else None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with sync_api.sync_playwright() as p:
        profile = tmp_path_factory.mktemp("chromium-profile")
        ctx = p.chromium.launch_persistent_context(str(profile), executable_path=str(CHROMIUM), headless=True,
                                                   args=FLAGS, viewport={"width": 1200, "height": 800})
        yield ctx
        ctx.close()


def wait(pg, expr, timeout=30.0):
    """Poll a JS expression until it is true (the page's CSP forbids the eval that wait_for_function needs)."""
    end = time.monotonic() + timeout
    while not pg.page.evaluate(expr):
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {expr}: {pg.page.evaluate('window.omnivecMap.stats()')}")
        time.sleep(0.05)


def serve(folder, on_demand=None):
    srv = make_server(folder, port=0, on_demand=on_demand)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}/index.html"


class Page:
    """A page with its console errors and every request it made recorded."""

    def __init__(self, ctx, url):
        self.page = ctx.new_page()
        self.errors, self.requests = [], []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url)
        assert self.page.evaluate("window.omnivecMap.ready") is True, self.stats()
        wait(self, "window.omnivecMap.stats().keysLoaded")
        self.page.evaluate("window.omnivecMap.redraw()")

    def stats(self):
        return self.page.evaluate("window.omnivecMap.stats()")

    def js(self, expr):
        return self.page.evaluate(expr)

    def offline(self):
        foreign = [u for u in self.requests if not u.startswith(("http://127.0.0.1", "file://", "data:"))]
        assert not foreign, foreign

    def shot(self, path):
        self.page.screenshot(path=str(path))
        if SHOTS:
            SHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, SHOTS / Path(path).name)


@pytest.fixture(scope="module")
def glove_map(tmp_path_factory):
    emb = glove20k()
    m = build_map(emb, layout="pca")
    folder = m.save(tmp_path_factory.mktemp("maps") / "glove20k")
    srv, url = serve(folder)
    yield m, folder, url
    srv.shutdown()


@pytest.fixture(scope="module")
def page(browser, glove_map):
    pg = Page(browser, glove_map[2])
    yield pg
    pg.page.close()


def test_page_draws_every_point(page, glove_map, tmp_path):
    st = page.stats()
    assert st["points"] == st["drawn"] == len(glove_map[0]) == 20000
    assert st["error"] is None and not page.errors
    assert page.js("window.omnivecMap.nonBlankPixels()") > 20000     # points really reached the canvas
    assert st["labels"], "no labels at the first zoom level"
    legend = page.page.locator("#legend li").all_inner_texts()
    assert len(legend) == 12 and legend[0].split("\n")[0] == glove_map[0].schemes[0].labels[0]
    page.offline()
    page.shot(tmp_path / "explore-glove20k.png")


def test_search_flies_to_the_key_and_lists_its_neighbours(page, glove_map, tmp_path):
    m = glove_map[0]
    before = page.stats()["view"]
    page.page.fill("#search", "paris")
    page.page.press("#search", "Enter")
    wait(page, "window.omnivecMap.stats().neighbors.length === 10")
    page.page.wait_for_timeout(700)                        # the fly-to animation
    st = page.stats()
    p = m.keys.index("paris")
    assert st["selectedKey"] == "paris"
    assert (st["view"]["cx"], st["view"]["cy"]) != (before["cx"], before["cy"])
    assert abs(st["view"]["cx"] - m.xy[p, 0]) < 1e-4 and abs(st["view"]["cy"] - m.xy[p, 1]) < 1e-4
    assert st["view"]["scale"] > before["scale"]
    want = [m.keys[j] for j in m.neighbors[p]]
    assert st["neighbors"] == want
    assert page.page.locator("#neighbors li button").all_inner_texts() == want
    assert "paris" in st["labels"]
    page.shot(tmp_path / "explore-glove20k-paris.png")
    page.page.fill("#search", "no-such-word-xyz")
    page.page.press("#search", "Enter")
    assert "no key matches" in page.page.inner_text("#search-status")


def test_clicking_a_point_lists_its_neighbours(page, glove_map):
    m = glove_map[0]
    p = m.keys.index("guitar")
    page.js(f"window.omnivecMap.setView({m.xy[p, 0]}, {m.xy[p, 1]}, 64)")
    x, y = page.js(f"window.omnivecMap.screenOf({p})")
    page.page.mouse.move(x, y)
    assert page.page.inner_text("#tooltip") == "guitar"
    page.page.mouse.click(x, y)
    wait(page, "window.omnivecMap.stats().selectedKey === 'guitar'")
    wait(page, "window.omnivecMap.stats().neighbors.length === 10")
    assert page.stats()["neighbors"] == [m.keys[j] for j in m.neighbors[p]]
    # A neighbour in the list is a link to that neighbour.
    page.page.locator("#neighbors li button").first.click()
    wait(page, f"window.omnivecMap.stats().selectedKey === {m.keys[m.neighbors[p][0]]!r}")


def test_zooming_changes_the_labels(page, glove_map):
    m = glove_map[0]
    p = m.keys.index("music")
    page.js(f"window.omnivecMap.setView({m.xy[p, 0]}, {m.xy[p, 1]}, 1)")
    far = page.stats()
    x, y = page.js(f"window.omnivecMap.screenOf({p})")
    page.page.mouse.move(x, y)
    for _ in range(12):                                     # the real wheel handler
        page.page.mouse.wheel(0, -300)
    page.page.wait_for_timeout(300)
    page.js("window.omnivecMap.redraw()")
    near = page.stats()
    assert near["view"]["scale"] > 20 * far["view"]["scale"]
    assert near["level"] > far["level"]
    assert set(near["labels"]) != set(far["labels"]) and set(near["labels"]) - set(far["labels"])
    # Labels at a level are the summaries Python computed for the visible tiles (or visible points).
    deep = set(sum(m.labels_at(near["level"]).values(), [])) | set(m.keys)
    assert set(near["labels"]) <= deep


def test_colour_scheme_switch_and_file_url(browser, tmp_path):
    g = glove20k()
    emb = omnivec.Embeddings(list(g.keys)[:3000], g.vectors[:3000], counts=np.arange(3000, 0, -1), name="g3k")
    folder = build_map(emb, layout="pca").save(tmp_path / "g3k")
    pg = Page(browser, (folder / "index.html").as_uri())           # opened from disk: no fetch, no server
    assert pg.stats()["drawn"] == 3000 and not pg.errors
    pg.page.select_option("#scheme", "1")
    wait(pg, "window.omnivecMap.stats().scheme === 'count'")
    assert "\u2013" in pg.page.locator("#legend li").first.inner_text()
    pg.js("window.omnivecMap.search('the')")
    wait(pg, "window.omnivecMap.stats().neighbors.length === 10")
    pg.offline()
    pg.page.close()


HOSTILE = ['<img src=x onerror="window.__pwned=1">', "<script>window.__pwned=1</script>", "",
           "</script><script>window.__pwned=1</script>", "a\u2028b", "&amp; &lt;", "javascript:window.__pwned=1"]


def test_keys_with_markup_are_text_never_code(browser, tmp_path):
    g = glove20k()
    keys = HOSTILE + list(g.keys)[len(HOSTILE):200]
    emb = omnivec.Embeddings(keys, g.vectors[:200], name='<img src=x onerror="window.__pwned=1">')
    folder = build_map(emb, layout="pca").save(tmp_path / "hostile")
    srv, url = serve(folder)
    try:
        pg = Page(browser, url)
        for i, key in enumerate(HOSTILE):
            pg.js(f"window.omnivecMap.select({i})")
            wait(pg, f"window.omnivecMap.stats().selected === {i} && "
                                      "window.omnivecMap.stats().neighbors.length === 10")
            shown = pg.page.inner_text("#sel-key")
            assert shown == (key if key else "\u2205 (empty key)")
            x, y = pg.js(f"window.omnivecMap.screenOf({i})")
            pg.page.mouse.move(x, y)
        # Hostile keys also appear in neighbour lists and labels; nothing ran, no element was made.
        pg.js("window.omnivecMap.setView(0.5, 0.5, 4000)")
        assert pg.js("window.__pwned") is None
        assert pg.js("document.querySelectorAll('img').length") == 0
        assert pg.js("document.querySelectorAll('script').length") == 1
        assert pg.js("document.title").startswith('<img src=x')
        assert not pg.errors
        assert pg.js(f"window.omnivecMap.search({HOSTILE[1]!r})") == 1
        pg.page.close()
    finally:
        srv.shutdown()


@pytest.mark.parametrize("n", [1, 2])
def test_one_and_two_point_maps_load(browser, tmp_path, n):
    g = glove20k()
    emb = omnivec.Embeddings(list(g.keys)[:n], g.vectors[:n])
    folder = build_map(emb).save(tmp_path / f"m{n}")
    srv, url = serve(folder)
    try:
        pg = Page(browser, url)
        st = pg.stats()
        assert st["drawn"] == n and st["error"] is None and not pg.errors
        assert set(st["labels"]) == set(list(g.keys)[:n])
        pg.js("window.omnivecMap.select(0)")
        wait(pg, f"window.omnivecMap.stats().neighbors.length === {n - 1}")
        pg.page.close()
    finally:
        srv.shutdown()


def test_neighbours_on_demand_from_the_server(browser, tmp_path):
    g = glove20k()
    emb = omnivec.Embeddings(list(g.keys)[:2000], g.vectors[:2000], name="g2k")
    m = build_map(emb, layout="pca", neighbors="exact", neighbor_limit=100)
    folder = m.save(tmp_path / "partial")
    from omnivec.explore.layout import prepare
    srv, url = serve(folder, OnDemandNeighbors(prepare(emb.vectors, "cosine"), "cosine", 10))
    try:
        pg = Page(browser, url)
        p = 1500                                         # not among the 100 precomputed
        assert (m.neighbors[p] == -1).all()
        pg.js(f"window.omnivecMap.select({p})")
        wait(pg, "window.omnivecMap.stats().neighbors.length === 10")
        want = [k for k, _ in emb.most_similar(emb.key(p), topn=10)]
        assert pg.stats()["neighbors"] == want
        assert "computed by the server" in pg.page.inner_text("#nbr-status")
        pg.page.close()
    finally:
        srv.shutdown()
    # Without the server (a plain static host) the page explains how to get them.
    srv, url = serve(folder)
    try:
        pg = Page(browser, url)
        pg.js(f"window.omnivecMap.select({p})")
        wait(pg, "document.getElementById('nbr-status').textContent.includes('--serve')")
        pg.page.close()
    finally:
        srv.shutdown()


def test_a_map_without_file_copies_explains_itself_from_disk(browser, tmp_path):
    g = glove20k()
    emb = omnivec.Embeddings(list(g.keys)[:100], g.vectors[:100])
    folder = build_map(emb, layout="pca").save(tmp_path / "nocopies", file_copies=False)
    pg = Page.__new__(Page)
    pg.page = browser.new_page()
    pg.page.goto((folder / "index.html").as_uri())
    assert pg.page.evaluate("window.omnivecMap.ready") is False
    assert "--serve" in pg.page.inner_text("#status")
    pg.page.close()
