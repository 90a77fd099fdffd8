"""`cognisim run`, `cognisim replay` and `cognisim convert`: the CI side of runs, over REST.

Exit codes: 0 every flow passed (a replay was identical), 1 one failed (diverged), 2 usage, flow or
connection errors (nothing was started when a flow file is invalid), 143 / 130 / 129 stopped by SIGTERM /
SIGINT / SIGHUP (the runs on the server are cancelled and the partial JUnit report is written).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

from runs.junit import mask
from runs.yamldoc import header_secrets

from .client import Api, CliError
from .progress import Job, Progress, progress_for
from .reports import failure_screenshots, summary_lines, write_html, write_junit
from .workspace import FlowFile, flow_file, pairs, tag_list, tags_admit, workspace_load

DEFAULT_SERVER = "http://127.0.0.1:8000"
POLL_MIN_S, POLL_MAX_S = 0.05, 0.5
OK, FAILED, USAGE = 0, 1, 2
TERMINAL = {"passed", "failed", "identical", "diverged", "error", "cancelled"}
STEP_ENDS = {"COMPLETED", "FAILED", "CANCELLED", "SKIPPED"}
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # SIGHUP: the terminal or the CI runner's shell went away


class Cancelled(Exception):
    """SIGTERM, SIGINT or SIGHUP while runs were going: stop them, report, exit 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _cancel(signum: int, frame: Any) -> None:
    for each in SIGNALS:  # the clean-up that follows runs to its end
        signal.signal(each, signal.SIG_IGN)
    raise Cancelled(signum)


@contextlib.contextmanager
def _signals_held() -> Any:
    """No signal between a run's creation on the server and the CLI knowing its id."""
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)


def _api(args: argparse.Namespace) -> Api:
    token = args.token or os.environ.get("COGNISIM_TOKEN", "")
    if not token:
        raise CliError(
            "no token: pass --token or set COGNISIM_TOKEN (python manage.py create_api_user NAME prints one)"
        )
    server = args.server or os.environ.get("COGNISIM_SERVER", DEFAULT_SERVER)
    try:
        parts = urllib.parse.urlsplit(server)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a bad port or IPv6 address
        valid = False
    if not valid or any(c.isspace() for c in server):
        raise CliError(
            f"--server {server!r} is not a URL: give http:// or https:// and the host (and port),"
            f" e.g. --server {DEFAULT_SERVER} (or set COGNISIM_SERVER)."
        )
    return Api(server, token)


def _events(api: Api, job: Job) -> list[dict[str, Any]]:
    """The session's events since the last read, for --stream."""
    page = api.ok("GET", f"/api/sessions/{job.run['session_id']}/events/?after={job.after}")
    job.after = page["next_after"]
    return page["results"]


def _stream(job: Job, events: list[dict[str, Any]], progress: Progress) -> None:
    """Events as lines, each step's outcome (from the run, read after the events) right after its end:
    the lines come in the order things happened."""
    for event in events:
        if event["type"] == "SESSION_STATUS":
            progress.line(
                f"{job.label}: session {event['status']}" + (f" ({event['error']})" if event.get("error") else "")
            )
        elif event["type"] == "STEP_STATUS" and event["status"] in ("STARTED", "RETRYING"):
            progress.line(f"{job.label}: step {event['step_index'] + 1} {event['status'].lower()} ({event['action']})")
        elif event["type"] == "STEP_STATUS" and event["status"] in STEP_ENDS:
            progress.finished(job, before=event["step_index"] + 1)


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
            events = _events(api, job) if progress.stream else []
            job.run = api.ok("GET", f"{path}{job.run['id']}/")
            _stream(job, events, progress)
            if job.run["status"] in TERMINAL:
                job.ended = time.monotonic()
                progress.finished(job)  # with --stream, steps whose events are not read yet
            changed = changed or job.run["steps_done"] != before or job.run["status"] in TERMINAL
        progress.update(jobs)
        delay = POLL_MIN_S if changed else min(POLL_MAX_S, delay * 1.5)
        time.sleep(delay)


def _start(api: Api, job: Job, path: str, progress: Progress) -> None:
    with _signals_held():
        job.run, job.started = api.ok("POST", path, job.body), time.monotonic()
    progress.line(f"{job.label}: started run {job.run['id']} ({job.run['steps_total']} steps)")


def _run_all(api: Api, jobs: list[Job], path: str, *, parallel: bool, progress: Progress) -> None:
    if parallel:
        for job in jobs:
            _start(api, job, path, progress)
        progress.update(jobs)
        _follow(api, jobs, progress, path)
        return
    for job in jobs:
        _start(api, job, path, progress)
        progress.update([job])
        _follow(api, [job], progress, path)


def _stop_all(api: Api, jobs: list[Job], path: str, reason: str) -> None:
    """Cancel every run still going (it records `cancelled` and the reason) and read its final report."""
    for job in jobs:
        if job.run and job.run["status"] not in TERMINAL:
            with contextlib.suppress(CliError):
                api.call("POST", f"/api/runs/{job.run['id']}/stop/", {"reason": reason})
            with contextlib.suppress(CliError):
                job.run = api.ok("GET", f"{path}{job.run['id']}/")
            job.ended = time.monotonic()
            if job.run["status"] in TERMINAL:
                _interrupted(job.run)


def _interrupted(run: dict[str, Any]) -> None:
    """A step the stop caught running (the device's worker has not ended it yet) is reported as a cancelled
    step is, `skipped`, so that the counts add up in the summary, JUnit and HTML."""
    for step in run.get("steps") or []:
        if step["status"] in ("running", "queued"):
            step["status"] = "skipped"


def _secrets(args: argparse.Namespace, env: dict[str, str]) -> dict[str, str]:
    """Values of `--secret NAME`: from `-e NAME=…`, else from the environment variable NAME."""
    values = {}
    for name in args.secret or []:
        if name in env:
            values[name] = env.pop(name)
        elif name in os.environ:
            values[name] = os.environ[name]
        else:
            raise CliError(f"--secret {name}: give its value with -e {name}=… or the environment variable {name}.")
    return values


def _declared(flow: FlowFile, given: dict[str, str], env: dict[str, str]) -> dict[str, str]:
    """Values of the variables the flow's files name under `secrets:` (and `--secret` did not give): from
    `-e NAME=…`, else from the environment variable NAME. One with neither is the server's error, naming it."""
    names = {name for text in (flow.text, *flow.files.values()) for name in header_secrets(text)}
    values = {}
    for name in sorted(names - given.keys()):
        if name in env:
            values[name] = env[name]
        elif name in os.environ:
            values[name] = os.environ[name]
    return values


# The server's word for a file the request did not carry; the CLI sends every file there is, so it does not exist.
NOT_SENT = re.compile(r"the file '(.*)' \((.*)\) was not sent with the flow; pass it in 'files' \(the CLI does\)\.")


def _missing_file(error: dict[str, Any]) -> str:
    """A located error as the server wrote it, or, for a file the CLI found nothing at, saying that."""
    text = str(error["text"])
    found = NOT_SENT.search(text)
    if found is None:
        return text
    ref, path = found.groups()
    said = f"the file '{ref}' does not exist: there is no {path} (a path is relative to the file that names it)."
    return text[: found.start()] + said + text[found.end() :]


def _check(api: Api, jobs: list[Job], masker: Any) -> list[dict[str, Any]] | None:
    """Validate every flow (and the files it runs, and its device) before any starts; None when one is invalid."""
    answers, invalid = [], False
    for job in jobs:
        status, answer = api.call("POST", "/api/runs/", {**job.body, "dry_run": True})
        if status == 400 and isinstance(answer, dict) and answer.get("code") == "invalid_flow":
            invalid = True
            for error in answer.get("errors", []):
                print(masker(_missing_file(error)), file=sys.stderr)
        elif status == 400 and isinstance(answer, dict) and answer.get("field") == "device":
            invalid = True
            why = str(answer.get("message", "")).removeprefix("device: ")
            print(masker(f"--device {job.body['device']}: {why}"), file=sys.stderr)
        elif status >= 400:
            message = answer.get("message") if isinstance(answer, dict) else answer
            raise CliError(masker(f"{job.body['filename']}: {status} {message}"))
        answers.append(answer)
    return None if invalid else answers


def run_flows(args: argparse.Namespace) -> int:
    wall = time.monotonic()
    jobs: list[Job] = []
    hidden: list[str] = []

    def masker(value: Any) -> Any:
        return mask(value, hidden)

    progress: Progress | None = None
    try:
        api = _api(args)
        env = pairs(args.env or [], "-e/--env")
        secrets = _secrets(args, env)
        hidden += list(secrets.values())
        meta = pairs(args.meta or [], "--meta")
        space = workspace_load(
            args.paths,
            config_path=args.config,
            include_tags=tag_list(args.include_tags or []),
            exclude_tags=tag_list(args.exclude_tags or []),
            env=env,
        )
        for flow in space.flows:
            declared = _declared(flow, secrets, env)
            hidden += list(declared.values())
            body: dict[str, Any] = {
                "flow": flow.text,
                "filename": flow.filename,
                "env": {k: v for k, v in env.items() if k not in declared},
                "secrets": {**secrets, **declared},
            }
            if flow.files:
                body["files"] = flow.files
            jobs.append(Job(label=flow.filename, body=body))
        answers = _check(api, jobs, masker)
        if answers is None:
            print("Nothing was run: fix the flow files above.", file=sys.stderr)
            return USAGE
        chosen = []
        for job, answer in zip(jobs, answers, strict=True):
            job.name = answer.get("name", "")
            if meta:
                job.body["meta"] = meta
            if tags_admit(answer.get("tags", []), include=space.include_tags, exclude=space.exclude_tags):
                chosen.append(job)
        if not chosen:
            raise CliError(
                f"no flow matches the tags (include: {', '.join(space.include_tags) or '-'}; "
                f"exclude: {', '.join(space.exclude_tags) or '-'})."
            )
        jobs = chosen
        firsts: dict[str, Job] = {}  # each device with the first flow it is given to
        for n, job in enumerate(jobs):
            if args.device:
                job.body["device"] = args.device[n % len(args.device)]
                firsts.setdefault(job.body["device"], job)
        if firsts and _check(api, list(firsts.values()), masker) is None:  # an unknown device starts nothing
            print("Nothing was run: name a device that exists with --device.", file=sys.stderr)
            return USAGE
        progress = progress_for(sys.stdout, stream=args.stream, mask=masker)
        api.say = progress.line
        cancelled: Cancelled | None = None
        previous = {each: signal.signal(each, _cancel) for each in SIGNALS}
        try:
            _run_all(api, jobs, "/api/runs/", parallel=args.parallel, progress=progress)
        except Cancelled as exc:
            cancelled = exc
            reason = f"{exc}: cognisim run was stopped (a cancelled CI job, Ctrl-C, or a closed terminal)"
            _stop_all(api, jobs, "/api/runs/", reason)
        finally:
            for each, handler in previous.items():
                signal.signal(each, handler)
        progress.update([j for j in jobs if j.run])
        progress.close()
        if args.junit:
            failure_screenshots(api, [j for j in jobs if j.run], args.junit)
        for job in jobs:
            if job.run:
                for line in summary_lines(job):
                    progress.line(line)
            else:
                progress.line(f"{'SKIPPED':9} {job.label}: not started")
        spent = time.monotonic() - wall
        if args.junit:
            why = f"{cancelled}: cognisim run was stopped" if cancelled else None
            write_junit(
                jobs,
                args.junit,
                per_step=args.junit_per_step,
                mask=masker,
                wall_s=spent,
                cancelled=why,
                base_url=api.server,
            )
            progress.line(f"JUnit report: {args.junit}")
        if args.html:
            write_html(api, jobs, args.html, mask=masker, wall_s=spent)
            progress.line(f"HTML report: {args.html}")
        if cancelled is not None:
            progress.line(f"Cancelled by {cancelled}: the runs on the server were stopped.")
            return 128 + cancelled.signum
    except CliError as exc:
        if progress is not None:
            progress.close()
        print(f"cognisim run: {masker(str(exc))}", file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:  # Ctrl-C while the flows were being read and checked: nothing started
        print("cognisim run: interrupted; nothing was started.", file=sys.stderr)
        return 128 + signal.SIGINT
    return OK if all(j.run["status"] == "passed" for j in jobs) else FAILED


def replay_bundle(args: argparse.Namespace) -> int:
    progress = progress_for(sys.stdout, stream=args.stream, mask=lambda v: v)
    try:
        api = _api(args)
        api.say = progress.line
        try:
            bundle = json.loads(Path(args.bundle).read_text())
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot read the bundle {args.bundle}: {exc}") from None
        body: dict[str, Any] = {"bundle": bundle}
        if args.device:
            body["device"] = args.device
        job = Job(label=Path(args.bundle).name, body={**body, "filename": args.bundle})
        status, answer = api.call("POST", "/api/replays/", body)
        if status >= 400:
            raise CliError(
                f"{answer.get('code')}: {answer.get('message')}" if isinstance(answer, dict) else str(status)
            )
        job.run, job.started = answer, time.monotonic()
        progress.line(f"{job.label}: replaying {job.run['steps_total']} steps as run {job.run['id']}")
        _follow(api, [job], progress, "/api/replays/")
        progress.close()
        for line in summary_lines(job, replay=True):
            progress.line(line)
    except CliError as exc:
        progress.close()
        print(f"cognisim replay: {exc}", file=sys.stderr)
        return USAGE
    return {"identical": OK, "diverged": FAILED}.get(job.run["status"], USAGE)


def convert_file(args: argparse.Namespace) -> int:
    """Print the native form of a Maestro flow file, after checking it as `cognisim run` does: every
    problem, each with its line (its variables may stay without values: they come with `-e`)."""
    from runs.flows import FlowInvalid, flow_parse
    from runs.maestro import MaestroProblem, is_maestro, maestro_convert
    from runs.yamldoc import YamlProblem, yaml_documents

    try:
        flow = flow_file(args.file)
        if is_maestro(yaml_documents(flow.text)):
            flow_parse(flow.text, filename=flow.filename, files=flow.files, values_later=True)
        native = maestro_convert(flow.text)  # a file that is not Maestro: that is its one problem
    except CliError as exc:
        print(f"cognisim convert: {exc}", file=sys.stderr)
        return USAGE
    except FlowInvalid as exc:
        for error in exc.errors:
            print(error.format(flow.filename), file=sys.stderr)
        print("Not converted: fix the problems above.", file=sys.stderr)
        return USAGE
    except MaestroProblem as exc:
        print(f"{flow.filename}:{exc.where[0]}:{exc.where[1]}: {exc.message}", file=sys.stderr)
        return USAGE
    except YamlProblem as exc:
        print(f"{flow.filename}:{exc.line}:{exc.column}: {exc.message}", file=sys.stderr)
        return USAGE
    sys.stdout.write(native)
    return OK
