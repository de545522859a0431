"""The demo's verdict: a few lines for people, ending with the one-line result, and optionally JSON for tests."""

import json


def build(results: list, pid_at_start: int, pid_at_end, seconds: float, interrupted: bool) -> dict:
    """`requests` and `failed` count the reviews client's requests and the product page loads together."""
    pages = sum(sum(r.get("pages", {}).values()) for r in results)
    pages_failed = sum(n for r in results for answer, n in r.get("pages", {}).items() if answer.startswith("failed"))
    requests = sum(r["requests"] for r in results) + pages
    failed = sum(r["failed"] for r in results) + pages_failed
    refused = [r["name"] for r in results if r["verdict"] != "accepted"]
    applied = [r for r in results if r["verdict"] == "accepted"]
    pids = [r["envoy_pid"] for r in results] + [pid_at_end]
    same_envoy = pid_at_start is not None and all(pid == pid_at_start for pid in pids)
    source = applied[0]["serving_label"] if applied else "?"
    target = applied[-1]["serving_label"] if applied else "?"
    if interrupted:
        last = "reviews migration %s -> %s interrupted: %d requests, %d failed" % (source, target, requests, failed)
    elif refused:
        last = "reviews migration %s -> %s: %d requests, %d failed, refused by Envoy: %s" % (
            source,
            target,
            requests,
            failed,
            ", ".join(refused),
        )
    else:
        last = "reviews migrated %s -> %s: %d requests, %d failed" % (source, target, requests, failed)
    return {
        "stages": results,
        "requests": requests,
        "failed": failed,
        "pages": pages,  # product page loads, in `requests` too
        "pages_failed": pages_failed,
        "refused": refused,
        "envoy_pid": {"start": pid_at_start, "end": pid_at_end, "unchanged": same_envoy},
        "seconds": round(seconds, 2),
        "interrupted": interrupted,
        "ok": not (failed or refused or interrupted) and same_envoy,
        "last_line": last,
    }


def lines(summary: dict) -> list:
    """The closing lines (each stage already had its own line); the last one is the verdict."""
    pid = summary["envoy_pid"]
    if pid["unchanged"]:
        envoy = "all served by one Envoy (pid %s, never restarted)" % pid["start"]
    elif pid["end"] is None:
        envoy = "Envoy (pid %s) gone before the end" % pid["start"]
    else:
        envoy = "Envoy RESTARTED: pid %s, then %s" % (pid["start"], pid["end"])
    out = ["", "%d stages in %.0f s, %s" % (len(summary["stages"]), summary["seconds"], envoy)]
    if summary.get("pages"):
        out.append(
            "%d requests to reviews and %d product page loads"
            % (summary["requests"] - summary["pages"], summary["pages"])
        )
    out += ["refused: %s (%s)" % (r["name"], r["reason"]) for r in summary["stages"] if r["verdict"] != "accepted"]
    return out + [summary["last_line"]]


def write_json(summary: dict, path: str):
    with open(path, "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
