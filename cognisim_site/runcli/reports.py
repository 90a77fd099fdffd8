"""The files `cognisim run` writes: the JUnit report (with each failure's screenshot saved beside it)
and the HTML report (one self-contained page, screenshots inlined). Secrets are masked first."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runs.junit import failure_text, junit_document, junit_suite, skipped_suite, step_lines

from .client import Api
from .progress import Job

Mask = Callable[[Any], Any]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:60] or "flow"


def _png(api: Api, url: str | None) -> bytes | None:
    if not url:
        return None
    status, payload = api.raw("GET", url)
    return payload if status == 200 and payload.startswith(b"\x89PNG") else None


def _write(target: str, text: str) -> None:
    """Write a report, making its folder first (as the attachments of a failing run do)."""
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def failure_screenshots(api: Api, jobs: list[Job], report_path: str) -> None:
    """Save each failed flow's screenshot in `<report>-attachments/` and remember its path, both from the
    report (what JUnit attachments take) and from the current directory (what the summary shows)."""
    target = Path(report_path)
    folder = target.with_name(target.stem + "-attachments")
    for n, job in enumerate(jobs, start=1):
        failures = job.run.get("failures") or []
        png = _png(api, failures[0].get("screenshot")) if failures else None
        if png is None:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{n:02d}-{_slug(Path(job.label).stem)}-step{failures[0]['index'] + 1}.png"
        (folder / name).write_bytes(png)
        job.attachment = f"{folder.name}/{name}"
        job.screenshot = str(folder / name)


def write_junit(
    jobs: list[Job],
    target: str,
    *,
    per_step: bool,
    mask: Mask,
    wall_s: float,
    cancelled: str | None,
    base_url: str = "",
) -> None:
    suites = []
    for job in jobs:
        if job.run:
            suite = junit_suite(mask(job.run), per_step=per_step, attachment=job.attachment, base_url=base_url)
            suites.append(suite)
        else:
            reason = f"not started: {cancelled or 'not run'}"
            suites.append(skipped_suite(job.name or job.label, job.body["filename"], reason))
    _write(target, junit_document(suites, time_s=wall_s))


CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#1d2330}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #e3e6ec;padding:.3em .5em;text-align:left;vertical-align:top}
.passed{color:#137333}.failed,.error,.cancelled{color:#b3261e}.skipped,.running{color:#6b7280}
pre{background:#f5f6f8;padding:.8em;white-space:pre-wrap}img{max-width:18em;border:1px solid #ccd;margin:.5em}
.meta{color:#4b5563}
"""


def _row(step: dict[str, Any], depth: int) -> str:
    took = f"{step['duration_ms'] / 1000:.3f}s" if step.get("duration_ms") is not None else ""
    error = step.get("error") if step["status"] == "failed" else None
    message = (
        f"<br><small>{html.escape(error.get('code', ''))}: {html.escape(error.get('message', ''))}</small>"
        if error
        else ""
    )
    number = f"{step['index'] + 1}" + (f".{step['round']}" if "round" in step else "")
    place = f"{step.get('file') or ''}:{step['line']}" if step.get("line") else ""
    optional = " (optional)" if step.get("optional") else ""
    cells = [
        f"<td>{'&nbsp;' * 4 * depth}{html.escape(number)}</td>",
        f"<td class='{html.escape(step['status'])}'>{html.escape(step['status'])}</td>",
        f"<td>{html.escape(step['label'])}{optional}{message}</td>",
        f"<td>{html.escape(place)}</td><td>{took}</td>",
    ]
    rows = ["<tr>" + "".join(cells) + "</tr>"]
    for inner in step.get("steps") or []:
        rows.append(_row(inner, depth + 1))
    return "\n".join(rows)


def write_html(api: Api, jobs: list[Job], target: str, *, mask: Mask, wall_s: float) -> None:
    parts = []
    for job in jobs:
        run = mask(job.run) if job.run else {}
        status = run.get("status", "not started")
        parts.append(
            f"<h2 class='{html.escape(status)}'>{html.escape(status.upper())} — "
            f"{html.escape(run.get('name') or job.label)}</h2>"
        )
        facts = [f"file {job.body['filename']}", f"device {run.get('device') or '-'}"]
        facts += [f"{k}={v}" for k, v in sorted((run.get("meta") or {}).items())]
        if run.get("cancel_reason"):
            facts.append(f"cancelled: {run['cancel_reason']}")
        parts.append(f"<p class='meta'>{html.escape(' · '.join(str(f) for f in facts))}</p>")
        failure = failure_text(run) if run else None
        if failure:
            parts.append(f"<pre>{html.escape(failure[2])}</pre>")
        if run.get("steps"):
            parts.append("<table><tr><th>#</th><th>status</th><th>step</th><th>where</th><th>time</th></tr>")
            parts += [_row(step, 0) for step in run["steps"]]
            parts.append("</table>")
        shots = [(s["label"], s["screenshot"]) for s in run.get("steps", []) if s.get("screenshot")]
        shots += [(f"failure: {f['label']}", f.get("screenshot")) for f in run.get("failures", [])[:1]]
        for label, url in shots:
            png = _png(api, url)
            if png:
                data = base64.b64encode(png).decode()
                parts.append(
                    f"<figure><img alt='{html.escape(label)}' src='data:image/png;base64,{data}'>"
                    f"<figcaption>{html.escape(label)}</figcaption></figure>"
                )
    passed = sum(1 for j in jobs if j.run.get("status") == "passed")
    title = f"CogniSim: {passed} of {len(jobs)} flows passed in {wall_s:.1f}s"
    page = (
        f"<!doctype html><html lang='en'><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style><body><h1>{html.escape(title)}</h1>\n" + "\n".join(parts) + "\n</body></html>\n"
    )
    _write(target, page)


def summary_lines(job: Job, *, replay: bool = False) -> list[str]:
    run = job.run
    steps = run.get("steps", [])
    counts = {k: sum(1 for s in steps if s["status"] == k) for k in ("passed", "failed", "skipped")}
    optional = sum(1 for s in steps if s["status"] == "failed" and s.get("optional"))
    took = (job.ended or job.started) - job.started
    lines = [
        f"{run['status'].upper():9} {job.label} ({run.get('name', '')}): {counts['passed']} passed, "
        f"{counts['failed'] - optional} failed, "
        + (f"{optional} optional failed, " if optional else "")
        + f"{counts['skipped']} skipped of {run['steps_total']} in {took:.1f}s on {run.get('device') or '-'}"
    ]
    failure = failure_text(run)
    if failure:
        lines += [f"    {line}" for line in failure[2].splitlines()]  # each failed step, a teardown's too
    if job.screenshot:
        lines.append(f"    screenshot: {job.screenshot}")
    if run["status"] == "error" and run.get("error"):
        lines.append(f"    {run['error'].get('message', run['error'])}")
    if run.get("cancel_reason"):
        lines.append(f"    cancelled: {run['cancel_reason']}")
    if run.get("meta"):
        lines.append("    meta: " + " ".join(f"{k}={v}" for k, v in sorted(run["meta"].items())))
    if run["status"] == "failed" and not replay:
        failed = next((s for s in steps if s["status"] == "failed" and s.get("steps")), None)
        if failed:
            lines += ["    " + line for line in step_lines(failed["steps"])]
    divergence = run.get("first_divergence")
    if replay and divergence:
        import json

        lines.append(f"    first diverging step: {divergence['step']} ({divergence['action']})")
        lines.append(
            f"      expected {divergence['expected_status']} {divergence['expected_hash'][:16]}: "
            f"{json.dumps(divergence['expected_effect'], sort_keys=True)[:300]}"
        )
        lines.append(
            f"      actual   {divergence['actual_status']} {(divergence['actual_hash'] or '')[:16]}: "
            f"{json.dumps(divergence['actual_effect'], sort_keys=True)[:300]}"
        )
    return lines
