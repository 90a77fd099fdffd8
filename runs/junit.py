"""The JUnit XML report of a run: one test case per step, as CI servers (Jenkins, GitLab, GitHub) read it."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

SKIP_MESSAGE = "not run: an earlier step failed or the run was stopped"


def _seconds(ms: int | None) -> str:
    return f"{(ms or 0) / 1000:.3f}"


def run_junit(report: dict[str, Any]) -> str:
    """`report` is `selectors.run_report`'s answer."""
    steps = report["steps"]
    failed = sum(1 for s in steps if s["status"] == "failed")
    skipped = sum(1 for s in steps if s["status"] in ("skipped", "queued", "running"))
    suite_name = report["name"] or report["filename"] or report["id"]
    errors = 1 if report["status"] == "error" and not failed else 0
    suite = ET.Element(
        "testsuite",
        {
            "name": suite_name,
            "tests": str(len(steps) + errors),
            "failures": str(failed),
            "errors": str(errors),
            "skipped": str(skipped),
            "time": _seconds(sum(s["duration_ms"] or 0 for s in steps)),
            "timestamp": report["started_at"] or report["created_at"] or "",
        },
    )
    properties = ET.SubElement(suite, "properties")
    for name in ("id", "session_id", "device", "filename", "status"):
        ET.SubElement(
            properties, "property", {"name": f"run.{name}" if name == "id" else name, "value": str(report[name] or "")}
        )
    if report["tags"]:
        ET.SubElement(properties, "property", {"name": "tags", "value": ",".join(report["tags"])})
    classname = report["filename"] or suite_name
    if errors:
        case = ET.SubElement(suite, "testcase", {"name": "session", "classname": classname, "time": "0.000"})
        error = report["error"] or {}
        ET.SubElement(
            case,
            "error",
            {
                "message": error.get("message", "The run ended before its steps ran."),
                "type": error.get("code", "error"),
            },
        )
    for step in steps:
        case = ET.SubElement(
            suite, "testcase", {"name": step["label"], "classname": classname, "time": _seconds(step["duration_ms"])}
        )
        props = [("step.index", step["index"]), ("step.action", step["action"])]
        if step["line"]:
            props.append(("step.line", step["line"]))
        if step["screenshot"]:
            props.append(("screenshot", step["screenshot"]))
        case_props = ET.SubElement(case, "properties")
        for name, value in props:
            ET.SubElement(case_props, "property", {"name": name, "value": str(value)})
        if step["status"] == "failed":
            error = step["error"] or {}
            message = error.get("message", "The step failed.")
            failure = ET.SubElement(case, "failure", {"message": message, "type": error.get("code", "failed")})
            failure.text = f"{step['label']}: {message}"
        elif step["status"] != "passed":
            ET.SubElement(case, "skipped", {"message": SKIP_MESSAGE})
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
