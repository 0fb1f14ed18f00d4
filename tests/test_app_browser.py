"""The app in a real browser: ``streamlit run app.py`` on localhost, driven by headless
Chromium (Debian's ``/usr/bin/chromium``) through Playwright, on tiny models and data.

Screenshots go to the test's temporary folder (or ``$OPTICAL_TEST_SCREENSHOTS``).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_app_service import make_app_env

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("OPTICAL_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 90_000

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not Path(CHROMIUM).is_file()
    or shutil.which("streamlit", path=str(Path(sys.executable).parent)) is None,
    reason=f"needs Chromium at {CHROMIUM} (`apt-get install chromium`; `.ci/setup --test` installs it) "
    "and streamlit in this environment",
)]
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="needs the playwright package (dev extra)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_model_dir):
    """The app on a free localhost port, pointed at the tiny world; stopped afterwards."""
    env = dict(os.environ)
    env.update(make_app_env(tmp_path_factory.getbasetemp() / "app_env", tiny_model_dir))
    env.update(
        OPTICAL_HOME=str(tmp_path_factory.mktemp("browser_home")), OPTICAL_APP_MAX_UPLOAD_MB="0.01"
    )
    port = _free_port()
    log = open(tmp_path_factory.mktemp("server") / "streamlit.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "streamlit"),
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.fileWatcherType",
            "none",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited early: {Path(log.name).read_text()[-2000:]}")
    else:
        proc.terminate()
        pytest.fail("streamlit did not start within 60 s")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def browser(server):
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("OPTICAL_TEST_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def idle(page, timeout: float = 90) -> None:
    """Wait until the script run is over (no running icon, no spinner) for about a second."""
    start, quiet = time.time(), 0
    page.wait_for_timeout(300)
    while time.time() - start < timeout:
        busy = page.evaluate("""() => !!document.querySelector(
            '[data-testid="stStatusWidgetRunningIcon"], [data-testid="stSpinner"]')""")
        quiet = 0 if busy else quiet + 1
        if quiet >= 4:
            return
        page.wait_for_timeout(250)
    raise AssertionError("the app kept running")


def open_view(browser, url: str, path: str = ""):
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(f"{url}/{path}")
    page.wait_for_selector("h1", timeout=WAIT_MS)
    idle(page)
    return page


def no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0


def query(page, text: str) -> None:
    box = page.get_by_label("Query (any language)")
    box.fill(text)
    box.press("Enter")


# ---------------------------------------------------------------------------- views
def test_every_view_in_the_browser(browser, server, shots):
    page = open_view(browser, server)
    page.get_by_text("OT cost ⟨P, C⟩ · tiny-optical").wait_for(timeout=WAIT_MS)
    assert page.get_by_role("heading", name="Alignment explorer").is_visible()
    page.get_by_role("tab", name="Transport plan").wait_for()
    page.screenshot(path=str(shots / "alignment.png"), full_page=True)
    assert page.locator(".js-plotly-plot").count() >= 2  # before and after, side by side
    ticks = (
        page.locator(".js-plotly-plot")
        .first.locator(".xtick text, .ytick text")
        .evaluate_all("els => els.map(e => e.textContent)")
    )
    source = page.get_by_text("source · ").first.inner_text()  # a TSV bitext has no language names
    assert ticks and all(t.startswith("▁") for t in ticks)  # the real sub-word tokens on the axes
    assert {t.lstrip("▁") for t in ticks} & set(source.replace("\n", " ").split())
    page.get_by_role("tab", name="Alignment links").click()
    idle(page)
    page.screenshot(path=str(shots / "alignment-links.png"), full_page=True)
    page.close()

    page = open_view(browser, server, "results")
    page.get_by_text("Download CSV").wait_for(timeout=WAIT_MS)
    table = page.locator('[data-testid="stDataFrame"]').first
    table.wait_for()
    assert page.get_by_text("R@1 (rel=2) per language").count() == 1
    assert page.get_by_text("high: de; low: sw, tl").count() == 1
    with page.expect_download() as download:
        page.get_by_text("Download CSV").click()
    csv = Path(download.value.path()).read_text()
    assert csv.startswith("benchmark,split,system,language") and "tiny-optical" in csv
    no_exception(page)
    page.screenshot(path=str(shots / "results.png"), full_page=True)
    page.close()

    page = open_view(browser, server, "search")
    page.get_by_text("Type a query in any language").wait_for(timeout=WAIT_MS)
    query(page, "god loved the world")
    page.get_by_text("10 hits").wait_for(timeout=WAIT_MS)
    idle(page)
    expanders = page.locator('[data-testid="stExpander"]')
    assert expanders.count() == 10 and "#1 · " in expanders.first.locator("summary").inner_text()
    assert page.get_by_text("Pooled cosine").count() == 1  # hit 1 is explained
    assert page.locator('[data-testid="stDataFrame"]').count() == 1  # its MaxSim matches
    expanders.nth(1).locator("summary").click()  # open hit 2: its evidence is computed on demand
    idle(page)
    assert page.get_by_text("Pooled cosine").count() == 2
    no_exception(page)
    page.screenshot(path=str(shots / "search.png"), full_page=True)
    for bad, message in (("   ", "empty query"), ("maji " * 2000, "10,000 characters")):
        query(page, bad)
        page.get_by_text(message).first.wait_for(timeout=WAIT_MS)
        no_exception(page)
    page.close()


def test_concurrent_sessions_all_answered(browser, server, shots):
    queries = [
        "god loved the world",
        "maji na nuru",
        "gott liebte die welt",
        "le monde 😀 عالم",
        "    ",
    ]
    pages = [open_view(browser, server, "search") for _ in queries]
    for page in pages:
        page.get_by_label("Query (any language)").wait_for(timeout=WAIT_MS)
    for page, text in zip(pages, queries, strict=True):  # fire all queries at once
        query(page, text)
    for k, (page, text) in enumerate(zip(pages, queries, strict=True)):
        if text.strip():
            page.get_by_text("10 hits").wait_for(timeout=WAIT_MS)
            idle(page)
            assert page.locator('[data-testid="stExpander"]').count() == 10
        else:
            page.get_by_text("empty query").wait_for(timeout=WAIT_MS)
        no_exception(page)
        page.screenshot(path=str(shots / f"concurrent-{k}.png"))
    for page in pages:
        page.close()


def test_uploaded_corpora(browser, server, tmp_path):
    page = open_view(browser, server, "search")
    page.get_by_text("Upload a corpus file").click()
    idle(page)
    files = {
        "bad.jsonl": (b'{"id": "1", "text": "ok"}\n{not json\n', "line 2: not valid JSON"),
        "latin1.tsv": ("1\tcaf\xe9 au lait".encode("latin-1"), "is not UTF-8"),
        "huge.tsv": (b"1\t" + b"water " * 4000, "the limit is 10 KB"),
        "good.tsv": (
            b"d1\tthe light of heaven\nd2\tmaji na nuru\nd3\tgod loved the world so much\n",
            None,
        ),
    }
    for name, (data, message) in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        page.locator('[data-testid="stFileUploader"] input[type=file]').set_input_files(str(path))
        idle(page)
        if message:
            page.get_by_text(message).wait_for(timeout=WAIT_MS)
            no_exception(page)
    page.get_by_text("good.tsv: 3 documents").wait_for(timeout=WAIT_MS)
    query(page, "god loved the world")
    page.get_by_text("3 hits").wait_for(timeout=WAIT_MS)
    idle(page)
    labels = page.locator('[data-testid="stExpander"] summary').all_inner_texts()
    ids = {
        m.group(1) for lab in labels for m in [re.search(r"#\d+ · [-\d.]+ · (\S+) — ", lab)] if m
    }
    assert len(labels) == 3 and ids == {"d1", "d2", "d3"}
    no_exception(page)
    page.close()
