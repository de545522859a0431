"""/traffic-shift: each destination's share of the traffic now (the last WINDOW seconds) and over the last
minutes, from the filter's own counter traffic_shift_requests_total on Envoy's admin /stats/prometheus.

A sampler thread reads the counter once a second and keeps HISTORY seconds of it, so the picture has a past
even when the page is opened late; /traffic-shift/data answers the shares as JSON and the page (a few lines of
plain JS drawing SVG, nothing fetched from elsewhere) redraws it every second, the way Kiali labels an edge.
"""

import collections
import http.client
import json
import re
import threading
import time
import urllib.parse

from .service import Answer

METRIC = "traffic_shift_requests_total"
WINDOW = 5  # seconds that make "now"
HISTORY = 300  # seconds kept and drawn
# The stat name carries the labels before its last part: traffic_shift.entry=.=…;.;requests_total
QUERY = "/stats/prometheus?" + urllib.parse.urlencode({"filter": r"traffic_shift\..*requests_total$"})
_SAMPLE = re.compile(r"^%s\{(.*)\}\s+([0-9.eE+]+)\s*$" % METRIC)
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> dict:
    """Prometheus text -> {destination label: count} of traffic_shift_requests_total, summed over entries."""
    counts = collections.Counter()
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            labels = dict(_LABEL.findall(match.group(1)))
            counts[labels.get("subset") or labels.get("destination", "?")] += int(float(match.group(2)))
    return dict(counts)


class Sampler(threading.Thread):
    def __init__(self, admin_address: str):
        super().__init__(name="traffic-shift-sampler", daemon=True)
        host, _, port = admin_address.rpartition(":")
        self.host, self.port = host or "127.0.0.1", int(port)
        self.samples = collections.deque(maxlen=HISTORY + WINDOW + 1)  # (unix time, {destination: count})
        self.error = None
        self.lock = threading.Lock()

    def read(self) -> dict:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=2)
        try:
            conn.request("GET", QUERY)
            response = conn.getresponse()
            body = response.read().decode("utf-8", "replace")
            if response.status != 200:
                raise OSError("admin answered HTTP %d" % response.status)
            return parse(body)
        finally:
            conn.close()

    def run(self):
        next_at = time.monotonic()
        while True:
            try:
                sample, self.error = self.read(), None
                with self.lock:
                    self.samples.append((time.time(), sample))
            except (OSError, http.client.HTTPException, ValueError) as error:
                self.error = "Envoy admin %s:%d: %s" % (self.host, self.port, error)
            next_at = max(next_at + 1, time.monotonic())
            time.sleep(max(0.0, next_at - time.monotonic()))  # late on a busy machine: at once, never negative

    def data(self) -> dict:
        with self.lock:
            samples = list(self.samples)
        names = sorted({name for _, counts in samples for name in counts})
        history = []  # one point a second: each destination's share of the WINDOW seconds before it
        for i in range(WINDOW, len(samples)):
            history.append([round(samples[i][0], 1), _shares(samples[i - WINDOW][1], samples[i][1], names)])
        now = history[-1][1] if history else {}
        counts = _deltas(samples[-WINDOW - 1][1], samples[-1][1], names) if len(samples) > WINDOW else {}
        return {
            "window": WINDOW,
            "history_seconds": HISTORY,
            "destinations": names,
            "now": now,
            "now_counts": counts,
            "history": history,
            "error": self.error,
        }


def _deltas(before: dict, after: dict, names) -> dict:
    return {n: max(0, after.get(n, 0) - before.get(n, 0)) for n in names}  # a counter reset counts as 0


def _shares(before: dict, after: dict, names) -> dict:
    deltas = _deltas(before, after, names)
    total = sum(deltas.values())
    return {n: round(100 * d / total, 1) for n, d in deltas.items()} if total else {}


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>traffic-shift: the split now</title><style>
body { font-family: sans-serif; margin: 24px; color: #222; } h1 { font-size: 20px; }
.row { display: flex; align-items: center; gap: 12px; margin: 6px 0; } .name { width: 60px; font-weight: bold; }
.track { width: 400px; height: 22px; background: #eee; } .bar { height: 22px; width: 0; }
.note { color: #666; font-size: 13px; } svg { background: #fcfcfc; border: 1px solid #ddd; }
</style></head><body><h1>reviews: each destination's share of the requests</h1>
<p class="note">From the filter's own counter traffic_shift_requests_total (Envoy admin /stats/prometheus),
redrawn every second. <a href="/productpage">product page</a></p>
<h2>Now (last <span id="window"></span> s)</h2><div id="now"></div><p class="note" id="status"></p>
<h2>The last minutes</h2><svg id="history" width="640" height="220" viewBox="0 0 640 220"></svg>
<div id="legend" class="note"></div>
<script>
const COLOURS = {v1: "#4a90d9", v2: "#222", v3: "#d0021b"}, SPARE = ["#f5a623", "#7ed321", "#9013fe", "#50e3c2"];
const colour = (name, i) => COLOURS[name] || SPARE[i % SPARE.length];
const svgNs = "http://www.w3.org/2000/svg";
function draw(data) {
  document.getElementById("window").textContent = data.window;
  const now = document.getElementById("now"); now.textContent = "";
  data.destinations.forEach((name, i) => {
    const share = data.now[name] || 0, row = document.createElement("div");
    row.className = "row"; row.dataset.destination = name; row.dataset.share = share;
    row.innerHTML = '<span class="name"></span><div class="track"><div class="bar"></div></div>'
      + '<span class="pct"></span>';
    row.querySelector(".name").textContent = name;
    const bar = row.querySelector(".bar"); bar.style.width = share + "%"; bar.style.background = colour(name, i);
    row.querySelector(".pct").textContent = share + "% (" + (data.now_counts[name] || 0) + " requests)";
    now.appendChild(row);
  });
  document.getElementById("status").textContent = data.error || (data.history.length ? "" : "waiting for traffic…");
  const svg = document.getElementById("history"), end = Date.now() / 1000, W = 640, H = 220;
  svg.textContent = "";
  [0, 50, 100].forEach(p => { const t = document.createElementNS(svgNs, "text");
    t.setAttribute("x", 2); t.setAttribute("y", H - 4 - p * (H - 16) / 100); t.setAttribute("font-size", 10);
    t.textContent = p + "%"; svg.appendChild(t); });
  data.destinations.forEach((name, i) => {
    const points = data.history.filter(p => name in p[1]).map(p =>
      [(W - (end - p[0]) * W / data.history_seconds).toFixed(1), (H - 4 - p[1][name] * (H - 16) / 100).toFixed(1)]);
    const line = document.createElementNS(svgNs, "polyline");
    line.setAttribute("points", points.join(" ")); line.setAttribute("fill", "none");
    line.setAttribute("stroke", colour(name, i)); line.setAttribute("stroke-width", 2);
    line.dataset.destination = name; svg.appendChild(line);
  });
  document.getElementById("legend").textContent = data.destinations.join(", ") + " over the last "
    + data.history_seconds / 60 + " minutes (each point: the " + data.window + " s before it)";
}
function refresh() {
  fetch("/traffic-shift/data").then(r => r.json()).then(draw)
    .catch(e => { document.getElementById("status").textContent = "no data: " + e; });
}
refresh(); setInterval(refresh, 1000);
</script></body></html>"""


def routes(admin_address: str) -> dict:
    sampler = Sampler(admin_address)
    sampler.start()
    return {
        "/traffic-shift": lambda path: Answer(200, PAGE, "text/html; charset=utf-8"),
        "/traffic-shift/data": lambda path: Answer(200, json.dumps(sampler.data())),
    }
