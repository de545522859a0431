"""`make soak`: python -m tools.soak [--phases steady,storm,scale] [--out target/soak/report.json]."""

import argparse
import json
import os
import sys

from . import report as report_mod
from . import scale, soak
from . import settings as settings_mod


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.soak", description=__doc__)
    parser.add_argument("--phases", default="steady,storm,scale")
    parser.add_argument("--out", default=os.path.join("target", "soak", "report.json"))
    args = parser.parse_args(argv)
    phases = args.phases.split(",")
    settings = settings_mod.from_environment()
    report = soak.run(settings, phases) if {"steady", "storm"} & set(phases) else {}
    if "scale" in phases:
        report["scale"] = scale.run()
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    print(report_mod.text(report))
    found = soak.problems(report)
    for problem in found:
        print("FAILED: " + problem, file=sys.stderr)
    print("soak: %s (full report: %s)" % ("FAILED" if found else "passed", args.out))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
