"""`cognisim run FLOW…` and `cognisim replay BUNDLE`: the CI side of runs, over REST with the stdlib only.

Exit codes: 0 every flow passed (a replay was identical), 1 one failed (diverged), 2 usage, flow
or connection errors (nothing was started when a flow file is invalid).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from xml.etree import ElementTree as ET

DEFAULT_SERVER = "http://127.0.0.1:8000"
POLL_MIN_S, POLL_MAX_S = 0.05, 0.5
OK, FAILED, USAGE = 0, 1, 2
TERMINAL = {"passed", "failed", "identical", "diverged", "error"}


class CliError(Exception):
    """A usage or connection problem: exit 2 with this message."""


@dataclass
class Api:
    server: str
    token: str
    timeout: float = 30

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.server.rstrip("/") + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", f"Token {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                status, payload = reply.status, reply.read()
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            raise CliError(f"cannot reach {self.server}: {getattr(exc, 'reason', exc)}") from None
        if status in (401, 403):
            raise CliError(f"{self.server} refused the token ({status}); pass --token or set COGNISIM_TOKEN.")
        if path.endswith(".xml") and status == 200:
            return status, payload.decode()
        try:
            return status, json.loads(payload) if payload else None
        except ValueError:
            raise CliError(f"{self.server} answered {status} with something that is not JSON.") from None

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = self.call(method, path, body)
        if status >= 400:
            message = answer.get("message") if isinstance(answer, dict) else answer
            raise CliError(f"{method} {path}: {status} {message}")
        return answer


@dataclass
class Job:
    """One flow file (or bundle) and its run on the server."""

    label: str
    body: dict[str, Any]
    run: dict[str, Any] = field(default_factory=dict)
    started: float = 0.0
    ended: float = 0.0
    after: int = 0  # events seen, for --stream
    shown: int = 0  # steps already reported as plain lines
    error: str = ""


class Progress:
    """A live status line on a terminal; plain lines otherwise."""

    def __init__(self, out: TextIO, *, stream: bool) -> None:
        self.out = out
        self.tty = out.isatty()
        self.stream = stream
        self.lock = threading.Lock()
        self.width = 0

    def line(self, text: str) -> None:
        with self.lock:
            if self.tty and self.width:
                self.out.write("\r" + " " * self.width + "\r")
                self.width = 0
            self.out.write(text + "\n")
            self.out.flush()

    def status(self, jobs: list[Job]) -> None:
        if not self.tty:
            return
        parts = []
        for job in jobs:
            run = job.run
            if not run:
                continue
            current = (run.get("current_step") or {}).get("label", "") if run["status"] == "running" else run["status"]
            elapsed = (job.ended or time.monotonic()) - job.started
            parts.append(f"{job.label} {run['steps_done']}/{run['steps_total']} {current[:40]} {elapsed:.1f}s")
        text = " | ".join(parts)[:200]
        with self.lock:
            self.out.write("\r" + text.ljust(self.width))
            self.width = len(text)
            self.out.flush()


def _step_line(job: Job, step: dict[str, Any], total: int) -> str:
    took = f" {step['duration_ms']} ms" if step.get("duration_ms") is not None else ""
    text = f"{job.label}: {step['index'] + 1}/{total} {step['status'].upper()} {step['label']}{took}"
    if step.get("error"):
        text += f" — {step['error'].get('code')}: {step['error'].get('message')}"
    return text


def _report_steps(job: Job, progress: Progress) -> None:
    """Plain lines for the steps that finished since the last poll (not on a terminal, or with --stream)."""
    if progress.tty and not progress.stream:
        return
    steps = job.run.get("steps", [])
    while job.shown < len(steps) and steps[job.shown]["status"] in ("passed", "failed", "skipped"):
        progress.line(_step_line(job, steps[job.shown], job.run["steps_total"]))
        job.shown += 1


def _stream_events(api: Api, job: Job, progress: Progress) -> None:
    page = api.ok("GET", f"/api/sessions/{job.run['session_id']}/events/?after={job.after}")
    for event in page["results"]:
        if event["type"] == "SESSION_STATUS":
            progress.line(
                f"{job.label}: session {event['status']}" + (f" ({event['error']})" if event.get("error") else "")
            )
        elif event["type"] == "STEP_STATUS" and event["status"] in ("STARTED", "RETRYING"):
            progress.line(f"{job.label}: step {event['step_index'] + 1} {event['status'].lower()} ({event['action']})")
    job.after = page["next_after"]


def _follow(api: Api, jobs: list[Job], progress: Progress, path: str) -> None:
    """Poll every job's run until all ended, reporting progress."""
    delay = POLL_MIN_S
    while True:
        pending = [j for j in jobs if j.run and j.run["status"] not in TERMINAL]
        if not pending:
            return
        changed = False
        for job in pending:
            before = job.run["steps_done"]
            job.run = api.ok("GET", f"{path}{job.run['id']}/")
            if progress.stream:
                _stream_events(api, job, progress)
            _report_steps(job, progress)
            if job.run["status"] in TERMINAL:
                job.ended = time.monotonic()
            changed = changed or job.run["steps_done"] != before or job.run["status"] in TERMINAL
        progress.status(jobs)
        delay = POLL_MIN_S if changed else min(POLL_MAX_S, delay * 1.5)
        time.sleep(delay)


def _summary(jobs: list[Job], progress: Progress, *, replay: bool = False) -> None:
    progress.line("")
    for job in jobs:
        run = job.run
        steps = run.get("steps", [])
        counts = {k: sum(1 for s in steps if s["status"] == k) for k in ("passed", "failed", "skipped")}
        took = job.ended - job.started
        progress.line(
            f"{run['status'].upper():9} {job.label} ({run.get('name', '')}): {counts['passed']} passed, "
            f"{counts['failed']} failed, {counts['skipped']} skipped of {run['steps_total']} in {took:.1f}s"
            f" on {run.get('device') or '-'}"
        )
        for failure in run.get("failures", []):
            where = f" (line {failure['line']})" if failure.get("line") else ""
            progress.line(
                f"    step {failure['index'] + 1}{where} {failure['label']}: {failure['code']}: {failure['message']}"
            )
        if run["status"] == "error" and run.get("error"):
            progress.line(f"    {run['error'].get('message', run['error'])}")
        divergence = run.get("first_divergence")
        if replay and divergence:
            progress.line(f"    first diverging step: {divergence['step']} ({divergence['action']})")
            progress.line(
                f"      expected {divergence['expected_status']} {divergence['expected_hash'][:16]}: "
                f"{json.dumps(divergence['expected_effect'], sort_keys=True)[:300]}"
            )
            progress.line(
                f"      actual   {divergence['actual_status']} {(divergence['actual_hash'] or '')[:16]}: "
                f"{json.dumps(divergence['actual_effect'], sort_keys=True)[:300]}"
            )


def _junit(api: Api, jobs: list[Job], target: str) -> None:
    suites = ET.Element("testsuites")
    for job in jobs:
        status, xml = api.call("GET", f"/api/runs/{job.run['id']}/junit.xml")
        if status != 200:
            raise CliError(f"could not fetch the JUnit report of {job.label}: {status}")
        suites.append(ET.fromstring(xml.encode()))
    for name in ("tests", "failures", "errors", "skipped"):
        suites.set(name, str(sum(int(s.get(name, "0")) for s in suites)))
    ET.indent(suites)
    Path(target).write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n")


def _env_pairs(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"--env takes KEY=VALUE, not {pair!r}")
        env[key] = value
    return env


def _api(args: argparse.Namespace) -> Api:
    token = args.token or os.environ.get("COGNISIM_TOKEN", "")
    if not token:
        raise CliError(
            "no token: pass --token or set COGNISIM_TOKEN (python manage.py create_api_user NAME prints one)"
        )
    return Api(args.server or os.environ.get("COGNISIM_SERVER", DEFAULT_SERVER), token)


def _start_all(api: Api, jobs: list[Job], path: str, *, parallel: bool, progress: Progress) -> None:
    if parallel:
        for job in jobs:
            job.run, job.started = api.ok("POST", path, job.body), time.monotonic()
            progress.line(f"{job.label}: started run {job.run['id']} ({job.run['steps_total']} steps)")
        _follow(api, jobs, progress, path)
        return
    for job in jobs:
        job.run, job.started = api.ok("POST", path, job.body), time.monotonic()
        progress.line(f"{job.label}: started run {job.run['id']} ({job.run['steps_total']} steps)")
        _follow(api, [job], progress, path)


def _stop_all(api: Api, jobs: list[Job]) -> None:
    for job in jobs:
        if job.run and job.run["status"] not in TERMINAL:
            with contextlib.suppress(CliError):
                api.call("POST", f"/api/runs/{job.run['id']}/stop/")


def run_flows(args: argparse.Namespace) -> int:
    out = sys.stdout
    progress = Progress(out, stream=args.stream)
    jobs: list[Job] = []
    try:
        api = _api(args)
        env = _env_pairs(args.env or [])
        devices = args.device or []
        for n, name in enumerate(args.flows):
            try:
                text = Path(name).read_text()
            except OSError as exc:
                raise CliError(f"cannot read {name}: {exc.strerror}") from None
            body: dict[str, Any] = {"flow": text, "filename": name, "env": env}
            if devices:
                body["device"] = devices[n % len(devices)]
            jobs.append(Job(label=Path(name).name, body=body))
        invalid = False
        for job in jobs:  # every flow is checked before any starts
            status, answer = api.call("POST", "/api/runs/", {**job.body, "dry_run": True})
            if status == 400 and isinstance(answer, dict) and answer.get("code") == "invalid_flow":
                invalid = True
                for error in answer.get("errors", []):
                    print(error["text"], file=sys.stderr)
            elif status >= 400:
                raise CliError(
                    f"{job.body['filename']}: {status} {answer.get('message') if isinstance(answer, dict) else answer}"
                )
        if invalid:
            print("Nothing was run: fix the flow files above.", file=sys.stderr)
            return USAGE
        try:
            _start_all(api, jobs, "/api/runs/", parallel=args.parallel, progress=progress)
        except KeyboardInterrupt:
            _stop_all(api, jobs)
            progress.line("Interrupted: the runs were stopped.")
            return USAGE
        _summary(jobs, progress)
        if args.junit:
            _junit(api, jobs, args.junit)
            progress.line(f"JUnit report: {args.junit}")
    except CliError as exc:
        print(f"cognisim run: {exc}", file=sys.stderr)
        return USAGE
    return OK if all(j.run["status"] == "passed" for j in jobs) else FAILED


def replay_bundle(args: argparse.Namespace) -> int:
    progress = Progress(sys.stdout, stream=args.stream)
    try:
        api = _api(args)
        try:
            bundle = json.loads(Path(args.bundle).read_text())
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot read the bundle {args.bundle}: {exc}") from None
        body: dict[str, Any] = {"bundle": bundle}
        if args.device:
            body["device"] = args.device
        job = Job(label=Path(args.bundle).name, body=body)
        status, answer = api.call("POST", "/api/replays/", body)
        if status >= 400:
            raise CliError(
                f"{answer.get('code')}: {answer.get('message')}" if isinstance(answer, dict) else str(status)
            )
        job.run, job.started = answer, time.monotonic()
        progress.line(f"{job.label}: replaying {job.run['steps_total']} steps as run {job.run['id']}")
        _follow(api, [job], progress, "/api/replays/")
        _summary([job], progress, replay=True)
    except CliError as exc:
        print(f"cognisim replay: {exc}", file=sys.stderr)
        return USAGE
    return {"identical": OK, "diverged": FAILED}.get(job.run["status"], USAGE)


def _connection_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", help=f"CogniSim URL (default $COGNISIM_SERVER or {DEFAULT_SERVER})")
    parser.add_argument("--token", help="API token (default $COGNISIM_TOKEN)")
    parser.add_argument("--stream", action="store_true", help="print every step and status change as it happens")


def add_commands(subparsers: Any) -> None:
    """Add `run` and `replay` to the `cognisim` command; each sets `run=<callable(args) -> int>`."""
    run = subparsers.add_parser("run", help="run flow files (YAML) on devices and report the verdict")
    run.add_argument("flows", nargs="+", metavar="FLOW", help="flow files")
    run.add_argument(
        "--device", action="append", metavar="SERIAL", help="device to use (repeat: one per flow, in turn)"
    )
    run.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    run.add_argument("--parallel", action="store_true", help="start every flow at once (on as many devices as free)")
    run.add_argument("--env", "-e", action="append", metavar="KEY=VALUE", help="override a flow variable")
    _connection_args(run)
    run.set_defaults(run=run_flows)
    replay = subparsers.add_parser("replay", help="replay a capture bundle and compare effects step by step")
    replay.add_argument("bundle", metavar="BUNDLE", help="capture bundle (JSON from GET /api/sessions/{id}/capture/)")
    replay.add_argument("--device", metavar="SERIAL")
    _connection_args(replay)
    replay.set_defaults(run=replay_bundle)


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
