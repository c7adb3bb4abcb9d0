"""End to end in real headless Chromium: analyse a generated clip, serve the catalog with
`cinemanet serve`, search, fix a bad query, open a shot page and watch the video play from
the shot's start.

Needs a Chromium binary (Debian package `chromium`; `.ci/run` installs it) and the Python
`playwright` package, driven with `executable_path` so nothing is downloaded. Skipped with
the reason when either is missing. Set CINEMANET_CHROMIUM to use another binary.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _chromium() -> str | None:
    env = os.environ.get("CINEMANET_CHROMIUM")
    if env:
        return env if os.access(env, os.X_OK) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        p = shutil.which(name)
        if p:
            return p
    return None


CHROMIUM = _chromium()
pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None, reason="no Chromium found (apt-get install chromium, or set CINEMANET_CHROMIUM)"
    ),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="needs the playwright Python package (pip install playwright; no browser download)"
)

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--mute-audio"]


def _wait_js(page, expr: str, timeout: int = 20000) -> None:
    """Poll a JavaScript expression until it is true. Playwright's wait_for_function evals its
    predicate inside the page, which the app's Content-Security-Policy (no unsafe-eval) refuses;
    page.evaluate goes through the debugging protocol, which the policy does not govern."""
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expr):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} ms: {expr}")
        page.wait_for_timeout(100)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        except Exception as e:  # noqa: BLE001 - a broken or incompatible binary: skip, saying why
            pytest.skip(f"cannot start {CHROMIUM} with Playwright: {str(e).splitlines()[0]}")
        yield b
        b.close()


def _codec_for(browser) -> tuple[str, str]:
    """H.264 in MP4 where this Chromium build has the proprietary codecs, else VP8 in WebM."""
    page = browser.new_page()
    try:
        h264 = page.evaluate("document.createElement('video').canPlayType('video/mp4; codecs=\"avc1.64001E\"')")
        vp8 = page.evaluate("document.createElement('video').canPlayType('video/webm; codecs=\"vp8\"')")
    finally:
        page.close()
    if h264:
        return "libx264", ".mp4"
    if vp8:
        return "libvpx", ".webm"
    pytest.skip("this Chromium plays neither H.264 nor VP8")


def _write_clip(path: Path, codec: str, seed: int = 11) -> None:
    """Four synthetic moving shots of 2-3 s joined by hard cuts (tests/videos.py)."""
    import av

    from videos import SyntheticShot, Transition, compose

    rng = np.random.default_rng(seed)
    lengths = [int(n) for n in rng.integers(48, 72, 4)]
    shots = [SyntheticShot(seed * 1000 + i, n, 320, 180) for i, n in enumerate(lengths)]
    frames, _ = compose(shots, [Transition("cut")] * 3)
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=24)
        s.width, s.height, s.pix_fmt = 320, 180, "yuv420p"
        s.options = (
            {"crf": "20", "preset": "veryfast", "threads": "1"} if codec == "libx264" else {"b": "800k", "threads": "1"}
        )
        for rgb in frames:
            for pkt in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)


@pytest.fixture(scope="module")
def served(browser, tmp_path_factory, net):
    """(base URL, sidecar document) of `cinemanet serve` over a catalog of one analysed clip."""
    from cinemanet.catalog.store import Catalog
    from cinemanet.video.analyze import VideoAnalyzer
    from cinemanet.video.sidecar import sidecar_path, write_sidecar

    codec, ext = _codec_for(browser)
    d = tmp_path_factory.mktemp("browser")
    video = d / f"clip{ext}"
    _write_clip(video, codec)
    doc = VideoAnalyzer(net).analyze(video)
    assert len(doc["shots"]) >= 3, "the generated clip should give several shots"
    cat = d / "catalog.sqlite"
    with Catalog.open(cat) as c:
        c.import_sidecar(write_sidecar(doc, sidecar_path(video)))
    port = _free_port()
    log = open(d / "serve.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cinemanet", "serve", "--catalog", str(cat), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(base + "/api/stats", timeout=2) as r:
                    assert json.load(r)["shots"] == len(doc["shots"])
                break
            except (OSError, ValueError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"cinemanet serve did not start: {(d / 'serve.log').read_text(errors='replace')[-2000:]}"
                    )
                time.sleep(0.3)
        yield base, doc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_search_then_play_a_shot_from_its_start(browser, served):
    base, doc = served
    page = browser.new_page()
    try:
        # the grid: every shot of the clip, server-rendered
        page.goto(base + "/")
        page.wait_for_selector("#results .card")
        assert page.locator("#results .card").count() == len(doc["shots"])
        nav = page.evaluate("JSON.stringify(performance.getEntriesByType('navigation')[0].toJSON())")
        first_ms = json.loads(nav)["domContentLoadedEventEnd"]
        print(f"\nfirst results page: DOMContentLoaded {first_ms:.0f} ms after navigation start")
        assert first_ms < 2000

        # search with the query box for a shot that does not start at 0
        target = doc["shots"][2]
        label = target["groups"]["shot.framing"]["label"]
        query = f"framing:{label.split('.', 2)[-1]}"
        page.fill("#q", query)
        page.press("#q", "Enter")
        page.wait_for_url("**/?q=*")
        page.wait_for_selector("#results .card")
        want = sum(1 for s in doc["shots"] if s["groups"]["shot.framing"]["label"] == label or label in s["tags"])
        assert page.locator("#results .card").count() == want
        assert target["description"] in page.inner_text("#results")

        # open the target shot from the results
        card = page.locator("#results .card", has_text=target["description"]).first
        card.locator(".desc a").click()
        page.wait_for_selector("#player")
        start, end = target["start_time"], target["end_time"]
        assert float(page.get_attribute("#player", "data-start")) == pytest.approx(start)

        # the video plays from the shot start: past it, not paused, and advancing
        _wait_js(
            page,
            f"(() => {{ const v = document.getElementById('player');"
            f" return v.readyState >= 2 && !v.paused && v.currentTime >= {start} - 0.05; }})()",
        )
        t1 = page.evaluate("document.getElementById('player').currentTime")
        assert start - 0.05 <= t1 < end + 0.5, (t1, start, end)  # from the shot, not from 0
        page.wait_for_timeout(700)
        state = page.evaluate(
            "(() => { const v = document.getElementById('player');"
            " return {t: v.currentTime, paused: v.paused, error: v.error && v.error.code}; })()"
        )
        assert state["error"] is None and not state["paused"]
        assert state["t"] > t1, "the video is not advancing"
        assert state["t"] >= start - 0.05

        # the score bars and keyframes are on the page; the keyframe images decode
        assert page.locator("meter").count() > 14
        _wait_js(
            page,
            "(() => { const i = document.querySelector('.keyframes img');"
            " return i && i.complete && i.naturalWidth > 0; })()",
        )
    finally:
        page.close()


def test_bad_query_shows_did_you_mean_and_the_fix_runs(browser, served):
    base, _ = served
    page = browser.new_page()
    try:
        resp = page.goto(base + "/?q=" + "framing%3Aclosup")
        assert resp.status == 400
        err = page.locator("#query-error")
        assert err.is_visible() and "closup" in err.inner_text()
        page.locator("#query-error a.fix").first.click()
        page.wait_for_selector("#summary")
        assert page.locator("#query-error").count() == 0
        assert "framing:closeup" in page.input_value("#q") or "framing:extremecloseup" in page.input_value("#q")
    finally:
        page.close()


def test_taxonomy_page_and_more_like_this(browser, served):
    base, doc = served
    page = browser.new_page()
    try:
        page.goto(base + "/taxonomy")
        assert page.locator(".tax-group").count() == 14
        page.goto(base + "/")
        page.locator("#results .card .like").nth(1).click()
        page.wait_for_selector("#results .card")
        assert "Shots like" in page.inner_text("#summary")
        # the shot itself ranks first (similarity 1)
        assert page.locator("#results .card .score").first.inner_text().startswith("1.0")
    finally:
        page.close()


def test_shot_page_loops_the_shot(browser, served):
    """With "loop the shot" ticked, playback wraps to the shot's start instead of stopping at its end."""
    base, doc = served
    target = min(doc["shots"][1:], key=lambda s: s["end_time"] - s["start_time"])  # a short one, not at 0
    start, end = target["start_time"], target["end_time"]
    page = browser.new_page()
    try:
        page.goto(base + "/")
        page.locator("#results .card", has_text=target["description"]).first.locator(".desc a").click()
        page.wait_for_selector("#player")
        assert page.is_checked("#loop")
        _wait_js(
            page,
            "(() => { const v = document.getElementById('player'); return v.readyState >= 2 && !v.paused; })()",
        )
        page.evaluate(
            "(() => { const v = document.getElementById('player'); let last = v.currentTime;"
            " v.dataset.wraps = '0'; v.addEventListener('timeupdate', () => {"
            " if (v.currentTime < last - 0.1) v.dataset.wraps = String(+v.dataset.wraps + 1);"
            " last = v.currentTime; }); })()"
        )
        wait = int((end - start) * 1000 * 6 + 20000)  # playback stalls on a loaded machine
        page.wait_for_selector("#player[data-wraps='2']", state="attached", timeout=wait)  # twice round
        page.wait_for_timeout(int((end - start) * 500))
        state = page.evaluate(
            "(() => { const v = document.getElementById('player'); return {t: v.currentTime, paused: v.paused}; })()"
        )
        print(f"\nloop check: shot {start:.2f}-{end:.2f} s, state {state}")
        assert not state["paused"] and start - 0.05 <= state["t"] <= end + 0.3, (state, start, end)
    finally:
        page.close()


def test_phone_width_and_short_shot_page(browser, served, tmp_path):
    """At 390 px (a phone) nothing overflows sideways and the header's search box is usable; a
    shot page shows each group's top labels and folds the rest, so it stays a few screens tall."""
    base, doc = served
    page = browser.new_page(viewport={"width": 390, "height": 844})
    try:
        for url in ("/", "/taxonomy"):
            page.goto(base + url)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, url
            box = page.locator("#q").bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["width"] >= 150, box
        page.goto(base + "/")
        page.locator("#results .card .desc a").first.click()
        page.wait_for_selector("#player")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(tmp_path / "shot-390.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})
        height = page.evaluate("document.documentElement.scrollHeight")
        assert height < 3000, height
        assert page.locator(".scores details").count() >= 1
    finally:
        page.close()
