"""Wall time of `cognisim run` for a 30-step flow on a simulated device, and the CLI's overhead above the session.

    python bench/cli.py                                   # starts its own `cognisim up` (SQLite, private home)
    python bench/cli.py --url http://127.0.0.1:8000 --token TOKEN [--device sim-1] [--runs 5]

Overhead = wall time of the `cognisim run` process (interpreter start, flow check, POST, polling,
summary, JUnit report) minus the session's own time (created_at → ended_at, from the API). Target:
≤ 0.4 s. Also printed: the CLI's start alone (`cognisim convert` of a small Maestro file).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from roundtrip import stack_for  # noqa: E402

from tests.live import Rest  # noqa: E402

CYCLE = [
    "  - assert_visible: {text: Sign in, index: 0}",
    "  - type: {text: demo, into: {id: email}}",
    "  - clear_text: {into: {id: email}}",
]


def flow_text(steps: int) -> str:
    lines = [
        "name: Bench",
        "app: com.cognisim.demo",
        "steps:",
        "  - launch_app: {package: com.cognisim.demo, clear_state: true}",
    ]
    lines += [CYCLE[n % len(CYCLE)] for n in range(steps - 1)]
    return "\n".join(lines) + "\n"


TARGET_S = 0.4
MAESTRO = "appId: com.cognisim.demo\n---\n- launchApp\n- tapOn: Sign in\n"


def one_run(url: str, token: str, device: str | None, path: str) -> tuple[float, float]:
    junit = str(Path(path).with_suffix(".xml"))
    argv = [sys.executable, "-m", "cognisim_site.runcli", "run", path, "--server", url, "--token", token]
    argv += ["--junit", junit]
    if device:
        argv += ["--device", device]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"cognisim run failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    rest = Rest(url, token)
    run = rest.get("/api/runs/").body[0]
    session = rest.get(f"/api/sessions/{run['session_id']}/").body
    span = datetime.fromisoformat(session["ended_at"]) - datetime.fromisoformat(session["created_at"])
    return wall, span.total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url")
    parser.add_argument("--token", default=os.environ.get("COGNISIM_TOKEN"))
    parser.add_argument("--device")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with stack_for(args, devices=1) as (url, token):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "bench.yaml")
            Path(path).write_text(flow_text(args.steps))
            one_run(url, token, args.device, path)  # warm-up
            results = [one_run(url, token, args.device, path) for _ in range(args.runs)]
            maestro = os.path.join(tmp, "maestro.yaml")
            Path(maestro).write_text(MAESTRO)
            starts = []
            for _ in range(args.runs):
                started = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "cognisim_site.runcli", "convert", maestro], check=True, capture_output=True
                )
                starts.append(time.perf_counter() - started)
        walls = [w for w, _ in results]
        sessions = [s for _, s in results]
        overheads = [w - s for w, s in results]
        print(f"{args.steps}-step flow, {args.runs} runs")
        w_med, w_min, w_max = statistics.median(walls), min(walls), max(walls)
        print(f"  cognisim run wall time   median {w_med:.3f} s  (min {w_min:.3f}, max {w_max:.3f})")
        print(f"  session created → ended  median {statistics.median(sessions):.3f} s")
        o_med, o_min, o_max = statistics.median(overheads), min(overheads), max(overheads)
        verdict = "within" if o_med <= TARGET_S else "OVER"
        print(
            f"  CLI overhead             median {o_med:.3f} s  (min {o_min:.3f}, max {o_max:.3f})"
            f"  {verdict} the {TARGET_S} s target"
        )
        print(f"  CLI start (convert)      median {statistics.median(starts):.3f} s")


if __name__ == "__main__":
    main()
