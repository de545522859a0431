"""Command line: python -m tools.demo {demo,rollout,run,apply} [options]   (see each module's docstring)."""

import argparse
import sys

from . import apply, migrate, rollout_demo, serve


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.demo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, module, help_text in (
        ("demo", migrate, "replay Istio's traffic shifting task (make demo)"),
        ("rollout", rollout_demo, "a rollout that runs by itself, then one the guard stops (make rollout-demo)"),
        ("run", serve, "the demo's Envoy in the foreground (make run)"),
        ("apply", apply, "swap the running Envoy's configuration live (make apply)"),
    ):
        sub = commands.add_parser(
            name, help=help_text, description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        module.add_arguments(sub)
        sub.set_defaults(main=module.main)
    args = parser.parse_args(argv)
    return args.main(args)


if __name__ == "__main__":
    sys.exit(main())
