"""`cognisim run PATH…`, `cognisim replay BUNDLE` and `cognisim convert FILE` (docs/ci.md)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .commands import OK, USAGE, convert_file, replay_bundle, run_flows


def _connection_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", help="CogniSim URL (default $COGNISIM_SERVER or http://127.0.0.1:8000)")
    parser.add_argument("--token", help="API token (default $COGNISIM_TOKEN)")
    parser.add_argument("--stream", action="store_true", help="print every step and status change as it happens")


def add_commands(subparsers: Any) -> None:
    """Add `run`, `replay` and `convert` to the `cognisim` command; each sets `run=<callable(args) -> int>`."""
    run = subparsers.add_parser("run", help="run flow files and folders (YAML, native or Maestro) and report")
    run.add_argument("paths", nargs="+", metavar="PATH", help="flow files, or folders of flows (see --config)")
    run.add_argument(
        "--device", action="append", metavar="SERIAL", help="device to use (repeat: one per flow, in turn)"
    )
    run.add_argument("--junit", metavar="FILE", help="write a JUnit XML report (one test case per flow)")
    run.add_argument("--junit-per-step", action="store_true", help="JUnit: one test case per step instead")
    run.add_argument("--html", metavar="FILE", help="write a self-contained HTML report with the screenshots")
    run.add_argument("--parallel", action="store_true", help="start every flow at once (on as many devices as free)")
    run.add_argument("--env", "-e", action="append", metavar="KEY=VALUE", help="set a flow variable")
    run.add_argument(
        "--secret",
        action="append",
        metavar="NAME",
        help="a variable whose value is masked everywhere (value from -e NAME=… or the environment variable NAME)",
    )
    run.add_argument("--meta", action="append", metavar="KEY=VALUE", help="run metadata (commit, build URL …)")
    run.add_argument("--include-tags", action="append", metavar="TAGS", help="run only flows with one of these tags")
    run.add_argument("--exclude-tags", action="append", metavar="TAGS", help="skip flows with any of these tags")
    run.add_argument("--config", metavar="FILE", help="workspace config (default: config.yaml in a folder given)")
    _connection_args(run)
    run.set_defaults(run=run_flows)
    replay = subparsers.add_parser("replay", help="replay a capture bundle and compare effects step by step")
    replay.add_argument("bundle", metavar="BUNDLE", help="capture bundle (JSON from GET /api/sessions/{id}/capture/)")
    replay.add_argument("--device", metavar="SERIAL")
    _connection_args(replay)
    replay.set_defaults(run=replay_bundle)
    convert = subparsers.add_parser("convert", help="print the native form of a Maestro flow file")
    convert.add_argument("file", metavar="FILE")
    convert.set_defaults(run=convert_file)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cognisim")
    add_commands(parser.add_subparsers(dest="command", required=True))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return USAGE if exc.code else OK
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
