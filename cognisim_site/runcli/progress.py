"""What `cognisim run` shows while flows run: a live table that fits the terminal (rich) on a TTY,
plain lines (one per finished step) otherwise. Everything shown goes through `mask` first."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from runs.junit import where

Mask = Callable[[Any], Any]


@dataclass
class Job:
    """One flow file (or bundle) and its run on the server."""

    label: str
    body: dict[str, Any]
    name: str = ""  # the flow's own name (from its header), once checked
    run: dict[str, Any] = field(default_factory=dict)
    started: float = 0.0
    ended: float = 0.0
    after: int = 0  # events seen, for --stream
    shown: int = 0  # steps already reported as plain lines
    waiting: str = ""  # what the run waits for, as last reported
    attachment: str | None = None  # the failure screenshot, saved next to the JUnit report: its path from there
    screenshot: str | None = None  # the same file's path from the current directory, for the summary


def waiting_for(run: dict[str, Any]) -> str:
    """What a run waits for, in words: a device, its setup, or a device back after it went away ("" when its
    steps are going)."""
    if run.get("status") != "running":
        return ""
    if run.get("session_status") == "IDLE":  # paused: its device stopped answering (docs/durability.md)
        why = (run.get("error") or {}).get("message") or "its device went away"
        return f"paused ({why.rstrip('.')}); it goes on when a device is back"
    if run.get("session_status") not in ("PENDING", "SETTING_UP"):
        return ""
    if not run.get("device"):
        return "waiting for a free device"
    return f"setting up {run['device']}"


def step_line(job: Job, step: dict[str, Any], total: int) -> str:
    took = f" {step['duration_ms']} ms" if step.get("duration_ms") is not None else ""
    place = where(step)
    status = step["status"].upper() + (" (optional)" if step["status"] == "failed" and step.get("optional") else "")
    text = f"{job.label}: {step['index'] + 1}/{total} {status} {step['label']}{took}"
    text += f" [{place}]" if place else ""
    if step.get("error") and step["status"] == "failed":
        text += f" — {step['error'].get('code')}: {step['error'].get('message')}"
    return text


class Progress:
    """Plain lines; `LiveProgress` adds the live table on a terminal."""

    def __init__(self, out: TextIO, *, stream: bool, mask: Mask) -> None:
        self.out = out
        self.stream = stream
        self.mask = mask
        self.lock = threading.Lock()
        self.live = False

    def line(self, text: str) -> None:
        with self.lock:
            self.out.write(self.mask(text) + "\n")
            self.out.flush()

    def update(self, jobs: list[Job]) -> None:
        """Called after every poll; plain output reports what a run waits for, then its finished steps.
        With --stream, the session's events say both, in their order (`commands._stream`)."""
        if self.stream:
            return
        for job in jobs:
            waiting = waiting_for(job.run)
            if waiting != job.waiting:
                if waiting:
                    self.line(f"{job.label}: {waiting}")
                job.waiting = waiting
            self.finished(job)

    def finished(self, job: Job, before: int | None = None) -> None:
        """A line for each finished step not reported yet, in order (only those before step `before`)."""
        steps = job.run.get("steps", [])
        end = len(steps) if before is None else min(before, len(steps))
        while job.shown < end and steps[job.shown]["status"] in ("passed", "failed", "skipped"):
            self.line(step_line(job, steps[job.shown], job.run["steps_total"]))
            job.shown += 1

    def close(self) -> None:
        pass


class LiveProgress(Progress):
    """One row per flow, redrawn in place and cut to the terminal's width."""

    def __init__(self, out: TextIO, *, stream: bool, mask: Mask) -> None:
        super().__init__(out, stream=stream, mask=mask)
        from rich.console import Console
        from rich.live import Live

        try:
            width: int | None = os.get_terminal_size(out.fileno()).columns
        except (OSError, ValueError):
            width = None  # rich asks the process's own terminal
        self.console = Console(file=out, width=width, highlight=False, markup=False, emoji=False, soft_wrap=False)
        self.view = Live(console=self.console, auto_refresh=False, transient=False, redirect_stdout=False)
        self.view.start()
        self.live = True

    def line(self, text: str) -> None:
        with self.lock:
            self.console.print(self.mask(text), overflow="fold", crop=False)

    def update(self, jobs: list[Job]) -> None:
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        width = self.console.width
        label_width = min(28, max(8, width // 4))
        rest = width - label_width - 12 - 7 - 7 - 4  # bar, counts, time, and a space between columns
        table = Table.grid(padding=(0, 1), expand=False)
        table.add_column(no_wrap=True, overflow="ellipsis", max_width=label_width)
        table.add_column(no_wrap=True, width=12)
        table.add_column(no_wrap=True, justify="right", width=7)
        table.add_column(no_wrap=True, justify="right", width=7)
        table.add_column(no_wrap=True, overflow="ellipsis", max_width=max(1, rest))
        for job in jobs:
            run = job.run
            if not run:
                table.add_row(job.label, ProgressBar(total=1, completed=0, width=12), "", "", "waiting")
                continue
            status = run["status"]
            current = (run.get("current_step") or {}).get("label", "") if status == "running" else status.upper()
            current = waiting_for(run) or current
            elapsed = (job.ended or time.monotonic()) - job.started
            bar = ProgressBar(total=max(1, run["steps_total"]), completed=run["steps_done"], width=12)
            counts = f"{run['steps_done']}/{run['steps_total']}"
            table.add_row(job.label, bar, counts, f"{elapsed:.1f}s", self.mask(current) if rest > 0 else "")
        with self.lock:
            self.view.update(table, refresh=True)

    def close(self) -> None:
        if self.live:
            self.view.stop()
            self.live = False


def progress_for(out: TextIO, *, stream: bool, mask: Mask) -> Progress:
    return LiveProgress(out, stream=stream, mask=mask) if out.isatty() else Progress(out, stream=stream, mask=mask)
