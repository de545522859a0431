"""Istio's Traffic Shifting task checked the way its readers check it: Bookinfo's product page in a browser.

`make run`'s server (python -m tools.demo run, on free ports) serves our Bookinfo; `make apply` moves reviews
from v1 to 50/50 to v3. At each stage headless Chromium (Debian's, /usr/bin/chromium, driven by Playwright)
loads the product page PAGES times and counts the pages whose stars it rendered red, by the computed fill of
the visible star shapes, never by the HTML text: none at v1, within 5 sigma of half at 50/50, all at v3.
It then opens /traffic-shift and reads the shares the chart drew (bar widths as rendered, and their labels):
the stage's own split. One screenshot of each page per stage is saved under target/bookinfo-e2e/.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from tools import REPO, envoylab

PLUGIN = os.path.join(REPO, "filter-config", "plugin")
SHOTS = os.path.join(REPO, "target", "bookinfo-e2e")
PAGES = 150  # product page loads per stage: the 50/50 stage's 5-sigma bound is then +-20 pages
STAGES = (("reviews-all-v1", {"v1": 100}), ("reviews-50-v3", {"v1": 50, "v3": 50}), ("reviews-v3", {"v3": 100}))
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
]
RED, BLACK = "rgb(255, 0, 0)", "rgb(0, 0, 0)"

# What the browser rendered: the fill of each visible star shape, and whether the reviews part failed.
RENDERED_STARS = """() => {
  const visible = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const fills = [...document.querySelectorAll(".stars polygon")].filter(visible)
    .map(p => getComputedStyle(p).getPropertyValue(p.getAttribute("fill") === "none" ? "stroke" : "fill"));
  const failed = [...document.querySelectorAll(".unavailable")].some(visible);
  const footer = document.getElementById("served-by");
  return {fills: fills, failed: failed, footer: footer && visible(footer) ? footer.innerText : null};
}"""
# What the chart drew: each row's label, its bar's rendered width as a share of its track, and its text.
RENDERED_CHART = """() => [...document.querySelectorAll("#now .row")].map(row => ({
  name: row.querySelector(".name").innerText,
  drawn: 100 * row.querySelector(".bar").getBoundingClientRect().width
         / row.querySelector(".track").getBoundingClientRect().width,
  text: row.querySelector(".pct").innerText,
  points: (document.querySelector('#history polyline[data-destination="' + row.dataset.destination + '"]')
           .getAttribute("points") || "").trim().split(/\\s+/).filter(Boolean).length,
}))"""


@pytest.fixture
def browser():
    chromium = shutil.which("chromium")
    if chromium is None:  # a failure, never a skip: `make e2e` installs it (tools/debian_tools.sh)
        pytest.fail("no chromium on PATH: run `bash tools/debian_tools.sh chromium:chromium` (Debian's package)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            yield launched.new_page(viewport={"width": 1000, "height": 700})
        finally:
            launched.close()


def shown_by(rendered: dict) -> str:
    """ "failed", "no stars", "black", "red" or "mixed", from what the browser rendered on one page."""
    if rendered["failed"] or not rendered["footer"]:
        return "failed"
    colours = set(rendered["fills"])
    if not colours:
        return "no stars"
    return {frozenset([RED]): "red", frozenset([BLACK]): "black"}.get(frozenset(colours), "mixed")


def load_pages(page, url: str, count: int) -> dict:
    seen = {}
    for _ in range(count):
        page.goto(url, wait_until="load")
        shown = shown_by(page.evaluate(RENDERED_STARS))
        seen[shown] = seen.get(shown, 0) + 1
    return seen


def window_drained(productpage_port: int, deadline_s: float = 30):
    """Wait until the chart's "now" window holds no request of the stage before (bounded)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        data = json.loads(envoylab.request(productpage_port, path="/traffic-shift/data", host="bookinfo").body)
        if data["history"] and not sum(data["now_counts"].values()):
            return
        time.sleep(0.5)
    pytest.fail("the /traffic-shift window never emptied: %s" % data)


class SteadyReviews(threading.Thread):
    """productpage's reviews calls, without a page: keeps the chart's "now" window full while it is read."""

    def __init__(self, envoy_port: int, limit: int = 20000):
        super().__init__(daemon=True)
        self.port, self.limit, self.stop = envoy_port, limit, threading.Event()

    def run(self):
        with envoylab.Connection(self.port) as connection:
            for _ in range(self.limit):  # bounded, and stopped as soon as the chart was read
                if self.stop.wait(0.002):
                    return
                connection.send()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.join(10)


CHART_REQUESTS = 50  # in the chart's "now" window before it is judged (5 sigma of 50/50: +-35%)
CHART_FULL = (
    """() => [...document.querySelectorAll("#now .row .pct")]
  .reduce((n, pct) => n + parseInt(pct.innerText.split("(")[1] || "0"), 0) >= %d"""
    % CHART_REQUESTS
)


def assert_chart_shows(rows: list, weights: dict):
    by_name = {row["name"]: row for row in rows}
    assert set(weights) <= set(by_name), rows
    counts = {}
    for name, row in by_name.items():
        share, count = re.match(r"^([\d.]+)% \((\d+) requests\)$", row["text"]).groups()
        assert abs(row["drawn"] - float(share)) <= 1.0, "the bar is not drawn at its share: %s" % row
        assert row["points"] >= 1, "no history drawn for %s" % row
        counts[name] = int(count)
    assert sum(counts.values()) >= CHART_REQUESTS, rows
    envoylab.assert_shares(counts, weights)


def test_the_product_page_shows_the_stars_of_each_stage_in_a_real_browser(demo_run, browser):
    state, env = demo_run.state, demo_run.env
    url = state["productpage_url"]
    port = state["bookinfo_ports"]["productpage"]
    os.makedirs(SHOTS, exist_ok=True)
    for index, (name, weights) in enumerate(STAGES):
        if index:
            applied = subprocess.run(
                [sys.executable, "-m", "tools.demo", "apply", "--config", os.path.join(PLUGIN, name + ".json")],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert applied.returncode == 0, applied.stdout + applied.stderr
            window_drained(port)
        seen = load_pages(browser, url, PAGES)
        browser.screenshot(path=os.path.join(SHOTS, "productpage-%d-%s.png" % (index + 1, name)))
        assert set(seen) <= {"no stars", "black", "red"}, "pages failed or showed mixed stars: %s" % seen
        assert "black" not in seen, seen  # v2 takes no traffic in the task
        envoylab.assert_shares({"v1": seen.get("no stars", 0), "v3": seen.get("red", 0)}, weights)

        with SteadyReviews(state["port"]):
            browser.goto(url.replace("/productpage", "/traffic-shift"), wait_until="load")
            try:
                browser.wait_for_function(CHART_FULL, timeout=30000)
            except PlaywrightTimeout:
                pytest.fail(
                    "the chart never showed %d requests: %s\n/traffic-shift/data: %s"
                    % (
                        CHART_REQUESTS,
                        browser.evaluate(RENDERED_CHART),
                        envoylab.request(port, path="/traffic-shift/data", host="bookinfo").body[:2000],
                    )
                )
            assert_chart_shows(browser.evaluate(RENDERED_CHART), weights)
            browser.screenshot(path=os.path.join(SHOTS, "traffic-shift-%d-%s.png" % (index + 1, name)))
