"""Regenerate the README screenshots of the app (docs/screenshots/*.png) in headless Chromium.

Starts ``streamlit run app.py`` on a free localhost port against the real assets (the
bundled model, the embedded Bible benchmark, the runs under ``--runs``, the results store
``$OPTICAL_RESULTS`` or ``runs/results.jsonl``), drives Debian's Chromium through
Playwright, and saves three small PNGs: ``alignment.png``, ``results.png``, ``search.png``.

    .venv/bin/python docs/make_screenshots.py                      # newest finished run
    .venv/bin/python docs/make_screenshots.py --student optical-sw --pair 3
    .venv/bin/python docs/make_screenshots.py --url http://localhost:8501   # a running app
    .venv/bin/python docs/make_screenshots.py --group bible-main    # one experiment's results

Needs ``playwright`` (dev extra) and ``/usr/bin/chromium`` (``.ci/setup --test``).
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
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
WIDTH = 1280
WAIT_MS = 300_000  # the first load of the real model and index on a busy CPU


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def app_server(runs: str | None, results: str | None = None) -> Iterator[str]:
    """``streamlit run app.py`` on a free port; yields its URL and stops it afterwards."""
    env = dict(os.environ)
    if runs:
        env["OPTICAL_RUNS"] = runs
    if results:
        env["OPTICAL_RESULTS"] = results
    port = _free_port()
    streamlit = Path(sys.executable).parent / "streamlit"
    cmd = [str(streamlit), "run", "app.py", "--server.headless", "true", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
           "--browser.gatherUsageStats", "false"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None:
                    raise SystemExit(
                        "streamlit exited; run `streamlit run app.py` to see why"
                    ) from None
                time.sleep(0.5)
        else:
            raise SystemExit("streamlit did not start within 2 minutes")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def idle(page, timeout: float = 300) -> None:
    """Wait until the script run is over (no running icon, no spinner) for about a second."""
    start, quiet = time.time(), 0
    page.wait_for_timeout(400)
    while time.time() - start < timeout:
        busy = page.evaluate(
            """() => !!document.querySelector(
            '[data-testid="stStatusWidgetRunningIcon"], [data-testid="stSpinner"]')"""
        )
        quiet = 0 if busy else quiet + 1
        if quiet >= 4:
            return
        page.wait_for_timeout(250)
    raise TimeoutError("the app kept running")


def save_png(data: bytes, path: Path, max_bytes: int = 300_000) -> None:
    """Write a screenshot as a palette PNG (small, crisp text); shrink it if still too big."""
    from PIL import Image

    image = Image.open(io.BytesIO(data)).convert("RGB")
    while True:
        small = image.quantize(
            colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
        buffer = io.BytesIO()
        small.save(buffer, format="PNG", optimize=True)
        if buffer.tell() <= max_bytes or image.width < 800:
            break
        image = image.resize(
            (int(image.width * 0.9), int(image.height * 0.9)), Image.Resampling.LANCZOS
        )
    path.write_bytes(buffer.getvalue())
    print(f"{path} ({buffer.tell() / 1024:.0f} KB, {small.width}x{small.height})")


def shot(
    page, path: Path, bottom_of: str | None = None, height: int = 1300, first: bool = False
) -> None:
    """Screenshot from the top of the page down to the bottom of ``bottom_of`` (a selector;
    its last match, or its first with ``first``)."""
    if bottom_of:
        found = page.locator(bottom_of)
        box = (found.first if first else found.last).bounding_box()
        height = int(box["y"] + box["height"] + 24) if box else height
    save_png(page.screenshot(clip={"x": 0, "y": 0, "width": WIDTH, "height": height}), path)


def pick(page, label: str, option: str) -> None:
    """Choose ``option`` in the selectbox labelled ``label``."""
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option, exact=True).click()
    idle(page)


def alignment(page, url: str, out: Path, student: str | None, pair: int) -> None:
    page.goto(url)
    page.get_by_text("OT cost").first.wait_for(timeout=WAIT_MS)
    idle(page)
    if student:
        pick(page, "After (right)", student)
    box = page.get_by_label("Pair (1–", exact=False)
    box.fill(str(pair))
    box.press("Enter")
    idle(page)
    page.get_by_role("tab", name="Alignment links").click()
    idle(page)
    page.mouse.move(WIDTH // 2, 1990)  # no hover effects
    shot(page, out / "alignment.png", '[data-testid="stTabs"]')


def results(page, url: str, out: Path, split: str | None, group: str | None = None) -> None:
    page.goto(f"{url}/results")
    page.get_by_role("heading", name="Per-language results").wait_for(timeout=WAIT_MS)
    idle(page)
    if group:
        pick(page, "Experiment", group)
    if split:
        pick(page, "Split", split)
    page.mouse.move(WIDTH // 2, 1990)  # no hover effects
    shot(page, out / "results.png", '[data-testid="stDataFrame"]')  # down to the spread table


def search(page, url: str, out: Path, student: str | None, query: str) -> None:
    page.goto(f"{url}/search")
    page.get_by_label("Query (any language)").wait_for(timeout=WAIT_MS)
    idle(page)
    if student:
        pick(page, "System", student)
    box = page.get_by_label("Query (any language)")
    box.fill(query)
    box.press("Enter")
    page.get_by_text("hits in").first.wait_for(timeout=WAIT_MS)
    idle(page)
    page.get_by_text("Transport plan").first.click()
    idle(page)
    page.mouse.move(WIDTH // 2, 1990)  # no hover effects
    shot(page, out / "search.png", '[data-testid="stExpander"]', first=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="use this running app instead of starting one")
    parser.add_argument("--runs", default=None, help="runs folder(s) to scan (sets OPTICAL_RUNS)")
    parser.add_argument(
        "--student", default=None, help="system shown after distillation / searched with"
    )
    parser.add_argument("--pair", type=int, default=19, help="bitext pair of the alignment view")
    parser.add_argument(
        "--split", default=None, help="results split shown (default: the app's, test)"
    )
    parser.add_argument("--results", default=None, help="results store (sets OPTICAL_RESULTS)")
    parser.add_argument("--group", default=None, help="experiment (sweep group) of the results view")
    parser.add_argument("--query", default="Mungu aliupenda ulimwengu sana", help="search query")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"), help="output folder")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with (
        nullcontext(args.url) if args.url else app_server(args.runs, args.results) as url,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": WIDTH, "height": 2000})
        page.set_default_timeout(WAIT_MS)
        alignment(page, url, out, args.student, args.pair)
        results(page, url, out, args.split, args.group)
        search(page, url, out, args.student, args.query)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
