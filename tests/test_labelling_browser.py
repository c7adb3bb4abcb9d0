"""End to end in real headless Chromium against `cinemanet serve`: two annotators label the
same items with the keyboard alone, a reviewer resolves their disagreement, and
`cinemanet label export` puts the result in the data-set library.

Skipped with the reason when Chromium or Playwright is missing (see tests/test_browser.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


from labelling_fixtures import make_project

ROOT = Path(__file__).resolve().parents[1]


# Chromium, Playwright and the skip reasons are test_browser's: one place to find a browser.
from test_browser import _free_port  # noqa: E402
from test_browser import browser  # noqa: E402,F401 - the module-scoped Chromium fixture
from test_browser import pytestmark as pytestmark  # noqa: E402


def serve(root: Path):
    """Start `cinemanet serve` with the labelling store under ``root``; returns (process, base URL)."""
    from cinemanet.catalog.store import Catalog

    Catalog.open(root / "catalog.sqlite").close()
    port = _free_port()
    env = dict(os.environ, CINEMANET_DATA=str(root))
    log = open(root / "serve.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cinemanet", "serve", "--catalog", str(root / "catalog.sqlite"), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(base + "/label", timeout=2).read()
            return proc, base
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(
                    f"cinemanet serve did not start: {(root / 'serve.log').read_text(errors='replace')[-2000:]}"
                ) from None
            time.sleep(0.3)


def login(page, base: str, token: str) -> None:
    page.goto(base + "/label")
    page.fill("#token", token)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def label_with_keys(page, base: str, project: str, keys, load: bool = True) -> list[int]:
    """Answer tasks with one key press each until none is left; ``keys(i)`` is the i-th key.
    Returns the task ids answered, in order."""
    if load:
        page.goto(f"{base}/label/{project}")
    done = []
    while page.locator("#answer-form").count():
        task = int(page.get_attribute("#answer-form", "data-task"))
        with page.expect_navigation():
            page.keyboard.press(keys(len(done)))
        done.append(task)
    return done


def test_two_annotators_a_reviewer_and_the_export(browser, tmp_path):
    store, p, ds_store = make_project(tmp_path, size=4, gold=0.0)
    toks = {
        "ana": store.add_annotator("ana"),
        "ben": store.add_annotator("ben"),
        "rev": store.add_annotator("rev", "reviewer"),
    }
    store.close()
    proc, base = serve(tmp_path)
    try:
        ana = browser.new_context().new_page()
        login(ana, base, toks["ana"])
        assert "proj" in ana.inner_text("main")
        # keys: "1" is the first offered framing label (extreme close-up: framing is offered in
        # its scale order), "2" the second
        ana.goto(f"{base}/label/proj")
        assert ana.locator("#reveal").count() == 0  # the model's guess is hidden before answering
        tasks_a = label_with_keys(ana, base, "proj", lambda i: "1")
        assert len(tasks_a) == 4
        assert ana.locator("#done").count() == 1

        ben = browser.new_context().new_page()
        login(ben, base, toks["ben"])
        # the suggestion box takes typing without triggering shortcuts
        ben.goto(f"{base}/label/proj")
        ben.fill("#suggestion", "<b>silhouette</b> 1 2 3")
        ben.locator("#suggestion").press("Escape")
        tasks_b = label_with_keys(ben, base, "proj", lambda i: "2" if i == 0 else "1", load=False)
        assert sorted(tasks_b) == sorted(tasks_a)  # each item served to both
        assert "Your answer:" in ben.inner_text("#reveal")

        # an annotator cannot open the review page
        r = ben.goto(f"{base}/review/proj")
        assert r.status == 403

        rev = browser.new_context().new_page()
        login(rev, base, toks["rev"])
        rev.goto(f"{base}/review/proj")
        assert rev.inner_text("#queue-total") == "1"
        answers = rev.inner_text("#answers")
        assert "ana" in answers and "ben" in answers and "Extreme close-up" in answers and "Close-up" in answers
        assert "<b>silhouette</b>" in rev.inner_text("main")  # shown as text, escaped
        assert rev.locator(".suggestions b").count() == 0
        with rev.expect_navigation():
            rev.keyboard.press("3")  # the reviewer's final decision: the third label
        assert rev.locator("#done").count() == 1
    finally:
        proc.terminate()
        proc.wait(10)

    env = dict(os.environ, CINEMANET_DATA=str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-m", "cinemanet", "label", "export", "proj", "--dataset", "crowd"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert "crowd" in ds_store.names()
    recs = ds_store.load("crowd").records
    assert len(recs) == 4
    from cinemanet.labelling import offered_labels

    third = offered_labels("shot.framing")[2].key
    first = offered_labels("shot.framing")[0].key
    decided = [r for r in recs if r.extra["decided_by.shot.framing"] == "review"]
    assert len(decided) == 1 and decided[0].labels["shot.framing"] == third
    assert all(r.labels["shot.framing"] == first for r in recs if r not in decided)
