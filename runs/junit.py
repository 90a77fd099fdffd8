"""JUnit XML reports of runs, as CI servers (Jenkins, GitLab, GitHub) read them.

By default one test case per flow: its steps with their timings in `<system-out>`, a failure naming
the step, its file and line, and the failure's screenshot as `[[ATTACHMENT|path]]` when the caller
saved it next to the report. `per_step=True` gives one test case per step instead, named by the
step's label (stable when other steps are inserted; a repeated label gets " (2)", " (3)" …).
The output is valid against the common JUnit schema (`tests/runs/junit.xsd`). Pure functions of the
run report (`selectors.run_report`): the server and `cognisim run` both use them. No Django here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from xml.etree import ElementTree as ET

SKIP_MESSAGE = "not run: an earlier step failed or the run was stopped"
STATUS_WORD = {"passed": "PASSED", "failed": "FAILED", "skipped": "SKIPPED", "running": "RUNNING", "queued": "QUEUED"}


def _seconds(ms: int | float | None) -> str:
    return f"{(ms or 0) / 1000:.3f}"


def mask(value: Any, secrets: Iterable[str]) -> Any:
    """`value` (str, or dicts and lists of them) with every secret value replaced by `***`."""
    hidden = sorted((s for s in secrets if s), key=len, reverse=True)
    if not hidden:
        return value

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            for secret in hidden:
                item = item.replace(secret, "***")
            return item
        if isinstance(item, dict):
            return {walk(k) if isinstance(k, str) else k: walk(v) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v) for v in item]
        return item

    return walk(value)


def where(step: Mapping[str, Any]) -> str:
    """`login.yaml:14`: the file and line a step is written on."""
    if not step.get("line"):
        return step.get("file") or ""
    return f"{step.get('file') or ''}:{step['line']}".lstrip(":")


def step_lines(steps: list[dict[str, Any]], *, indent: str = "", prefix: str = "") -> list[str]:
    """One line per step (and per inner step of control flow: `4.1`, with its round when it loops),
    for `<system-out>` and the console."""
    lines = []
    looped = any(step.get("round", 1) > 1 for step in steps)
    for step in steps:
        number = f"{prefix}{step['index'] + 1}"
        took = f"{(step.get('duration_ms') or 0) / 1000:7.3f}s" if step.get("duration_ms") is not None else " " * 8
        status = STATUS_WORD.get(step["status"], str(step["status"]).upper())
        extra = " (optional)" if step.get("optional") else ""
        extra += " (always)" if step.get("always") else ""
        extra += f" (round {step['round']})" if looped and "round" in step else ""
        place = where(step)
        lines.append(
            f"{indent}{number:<6} {status:<8} {took}  {step['label']}{extra}" + (f"  [{place}]" if place else "")
        )
        error = step.get("error")
        if error and step["status"] == "failed":
            lines.append(f"{indent}       {error.get('code', 'failed')}: {error.get('message', '')}")
        if step.get("steps"):
            lines += step_lines(step["steps"], indent=indent + "  ", prefix=f"{number}.")
    return lines


def failure_line(failure: Mapping[str, Any]) -> str:
    """`step 3 (login.yaml:6) tap id=ok: element_not_found: …`: one failed step (`run_report`'s `failures`)."""
    inner = failure.get("inner")
    place = where(inner or failure)
    label = failure["label"] + (f" → {inner['label']}" if inner else "")
    at = f" ({place})" if place else ""  # a replayed bundle's steps have no file
    return f"step {failure['index'] + 1}{at} {label}: {failure['code']}: {failure['message']}"


def failure_text(report: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(message, type, details) of a failed flow: which step, where, and what went wrong. A later failure (a
    teardown's, an `always` step's) is named in the message too, and the details have a line for each."""
    failures = report.get("failures") or []
    if not failures:
        return None
    first, *more = failures
    message = failure_line(first)
    if more:
        others = "; ".join(f"step {f['index'] + 1} {f['label']}: {f['code']}" for f in more)
        message += f" (and {len(more)} more: {others})"
    return message, first["code"], "\n".join(failure_line(f) for f in failures)


def _suite(report: Mapping[str, Any], name: str) -> ET.Element:
    suite = ET.Element("testsuite", {"name": name})
    if report.get("filename"):
        suite.set("file", report["filename"])
    suite.set("timestamp", report.get("started_at") or report.get("created_at") or "")
    properties = ET.SubElement(suite, "properties")
    values = [
        ("run.id", report.get("id")),
        ("session_id", report.get("session_id")),
        ("device", report.get("device")),
        ("status", report.get("status")),
        ("syntax", report.get("syntax")),
    ]
    if report.get("tags"):
        values.append(("tags", ",".join(report["tags"])))
    if report.get("cancel_reason"):
        values.append(("cancel_reason", report["cancel_reason"]))
    values += [
        (f"meta.{k}", v if isinstance(v, str) else str(v)) for k, v in sorted((report.get("meta") or {}).items())
    ]
    for key, value in values:
        if value is not None and value != "":
            ET.SubElement(properties, "property", {"name": key, "value": str(value)})
    return suite


def _out(case: ET.Element, lines: list[str], attachment: str | None) -> None:
    if attachment:
        lines = [*lines, f"[[ATTACHMENT|{attachment}]]"]
    if lines:
        ET.SubElement(case, "system-out").text = "\n".join(lines) + "\n"


def _counts(suite: ET.Element) -> None:
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
    suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))


def _run_problem(report: Mapping[str, Any]) -> tuple[str, str] | None:
    """(message, type) of a run that ended without a verdict on its steps: cancelled, or an error."""
    if report.get("status") == "cancelled":
        return f"cancelled: {report.get('cancel_reason') or 'the run was stopped'}", "cancelled"
    if report.get("status") == "error":
        error = report.get("error") or {}
        done, total = report.get("steps_done"), report.get("steps_total")
        ran = f" ({done} of {total} done)" if done is not None and total else ""
        default = f"The run's session ended before all its steps ran{ran}: it was stopped, or its device was lost."
        return error.get("message", default), error.get("code", "error")
    return None


EVIDENCE = (("screen", "screen at failure"), ("ui_tree", "UI tree at failure"), ("log", "device log at failure"))
LINKS = (("recording", "recording"), ("log", "device log"))


def _url(path: str, base_url: str) -> str:
    return base_url.rstrip("/") + path if path.startswith("/") and base_url else path


def evidence_lines(evidence: Mapping[str, Any] | None, base_url: str = "") -> list[str]:
    """A failed step's evidence (`run_report`'s `evidence`), one `what: URL` line each."""
    found = evidence or {}
    return [f"{label}: {_url(found[key], base_url)}" for key, label in EVIDENCE if found.get(key)]


def link_lines(report: Mapping[str, Any], base_url: str = "") -> list[str]:
    """The run's recording and device log, one `what: URL` line each."""
    links = report.get("artifacts") or {}
    return [f"{label}: {_url(links[key], base_url)}" for key, label in LINKS if links.get(key)]


def junit_suite(
    report: Mapping[str, Any], *, per_step: bool = False, attachment: str | None = None, base_url: str = ""
) -> ET.Element:
    """The `<testsuite>` of one run. `attachment`: the failure screenshot's path, relative to the report;
    `base_url`: the server's, to make the links to the recording and the failure's evidence absolute."""
    name = report.get("name") or report.get("filename") or report.get("id") or "flow"
    suite = _suite(report, name)
    links = report.get("artifacts") or {}
    if links.get("recording"):
        properties = suite.find("properties")
        assert properties is not None
        ET.SubElement(properties, "property", {"name": "recording", "value": _url(links["recording"], base_url)})
    steps = report.get("steps") or []
    wall = report.get("duration_ms")
    suite.set("time", _seconds(wall if wall is not None else sum(s.get("duration_ms") or 0 for s in steps)))
    problem = _run_problem(report)
    if not per_step:
        case = ET.SubElement(suite, "testcase", {"name": name, "classname": report.get("filename") or name})
        case.set("time", suite.get("time", "0"))
        failure = failure_text(report)
        if report.get("status") in ("running", "queued"):
            ET.SubElement(case, "skipped", {"message": "still running when the report was written"})
        elif failure is not None:
            element = ET.SubElement(case, "failure", {"message": failure[0], "type": failure[1]})
            element.text = "\n".join(
                line
                for failed in report["failures"]
                for line in (failure_line(failed), *evidence_lines(failed.get("evidence"), base_url))
            )
        elif problem is not None:
            ET.SubElement(case, "error", {"message": problem[0], "type": problem[1]})
        _out(case, step_lines(steps) + link_lines(report, base_url), attachment if failure else None)
        _counts(suite)
        return suite
    if problem is not None and not any(s["status"] == "failed" for s in steps):
        case = ET.SubElement(suite, "testcase", {"name": "session", "classname": name, "time": "0.000"})
        ET.SubElement(case, "error", {"message": problem[0], "type": problem[1]})
    seen: dict[str, int] = {}
    for step in steps:
        seen[step["label"]] = seen.get(step["label"], 0) + 1
        label = step["label"] + (f" ({seen[step['label']]})" if seen[step["label"]] > 1 else "")
        case = ET.SubElement(
            suite, "testcase", {"name": label, "classname": name, "time": _seconds(step["duration_ms"])}
        )
        failed = step["status"] == "failed" and not step.get("optional")
        if failed:
            error = step.get("error") or {}
            message = f"{where(step)}: {error.get('code', 'failed')}: {error.get('message', 'The step failed.')}"
            text = "\n".join([message, *evidence_lines(step.get("evidence"), base_url)])
            ET.SubElement(case, "failure", {"message": message, "type": error.get("code", "failed")}).text = text
        elif step["status"] not in ("passed", "failed"):
            ET.SubElement(case, "skipped", {"message": SKIP_MESSAGE})
        lines = step_lines(step.get("steps") or []) + (
            [f"screenshot: {step['screenshot']}"] if step.get("screenshot") else []
        )
        if step["status"] == "failed" and not failed:  # an optional step: it fails nothing, but says so
            error = step.get("error") or {}
            lines.insert(
                0, f"FAILED (optional: fails nothing) {error.get('code', 'failed')}: {error.get('message', '')}"
            )
        _out(case, lines, attachment if failed else None)
    _counts(suite)
    return suite


def _document(root: ET.Element) -> str:
    ET.indent(root)
    for element in root.iter():  # a character XML 1.0 cannot hold (ESC in a name) is written as its escape
        element.text = _xml_text(element.text)
        element.tail = _xml_text(element.tail)
        for key, value in element.attrib.items():
            element.set(key, _xml_text(value) or "")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(value: str | None) -> str | None:
    """`value` with every character XML 1.0 cannot hold written as `\\xNN` / `\\uNNNN`."""
    if not value or not NOT_XML.search(value):
        return value
    return NOT_XML.sub(lambda m: m[0].encode("unicode_escape", "backslashreplace").decode("ascii"), value)


def run_junit(report: Mapping[str, Any], *, per_step: bool = False, base_url: str = "") -> str:
    """One run as a `<testsuite>` document (GET /api/runs/{id}/junit.xml)."""
    return _document(junit_suite(report, per_step=per_step, base_url=base_url))


def junit_document(suites: list[ET.Element], *, name: str = "cognisim", time_s: float | None = None) -> str:
    """Several runs' suites as one `<testsuites>` document; `time_s` is the wall time of them all."""
    root = ET.Element("testsuites", {"name": name})
    for suite in suites:
        root.append(suite)
    for key in ("tests", "failures", "errors"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in suites)))
    total = time_s if time_s is not None else sum(float(s.get("time", "0")) for s in suites)
    root.set("time", f"{total:.3f}")
    return _document(root)


def skipped_suite(name: str, filename: str, reason: str) -> ET.Element:
    """A flow that never started (the CLI was cancelled first)."""
    suite = ET.Element("testsuite", {"name": name, "file": filename, "time": "0.000"})
    case = ET.SubElement(suite, "testcase", {"name": name, "classname": filename, "time": "0.000"})
    ET.SubElement(case, "skipped", {"message": reason})
    _counts(suite)
    return suite
