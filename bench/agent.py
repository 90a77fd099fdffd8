"""The offline planner judged by outcome on the simulated phone: the training corpus and the held-out set.

    python bench/agent.py [--rounds N] [--only training|heldout] [--verbose] [--show-failures]

For each set (`tests/turns/corpus.yaml`, the training corpus the planner is tuned on, and
`tests/turns/heldout.yaml`, written by someone who never saw the planner), every instruction is
planned against a fresh simulated phone on its screen, its steps run, and what remains is planned
again on the new screen, as the turn pipeline does (`tests/turns/corpus.py`). Printed per set:
accuracy, the count of silently wrong plans (acted where it had to ask, refuse or fail a check, or
acted with a wrong result and no failure), accuracy by style and by expected outcome, and the
planning time per instruction (one `plan` call on the instruction's first screen, N rounds), p50
and p99, in wall-clock time and in the CPU time the planning thread used (the wall clock of a
shared machine also counts the time other processes held the CPU).

The held-out set is printed as figures only. `--verbose` lists the training corpus's failures;
`--show-failures` lists the held-out set's as well, which turns it into training data: tuning on
what it shows voids the held-out figure.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def report(name: str, path: Path, *, rounds: int, show: bool) -> None:
    from tests.turns.corpus import judge_all, load
    from turns.brains import BrainError, OfflineBrain

    if not path.exists():
        print(f"{name}: {path.name} is not there yet\n")
        return
    suite = load(path)
    brain = OfflineBrain()
    verdicts = judge_all(brain, suite)
    total = len(verdicts)
    right = sum(v.passed for v in verdicts)
    silent = [v for v in verdicts if v.silently_wrong]
    print(f"{name}: {total} instructions on {len(suite.specs)} screens ({path.name})")
    print(f"  accuracy: {right}/{total} = {right / total:.1%}")
    guarded = [v for v in silent if v.case.expect != "act"]
    print(f"  silently wrong: {len(silent)} (of which on ask/refuse/check_fails cases: {len(guarded)})")
    for label, key in (("by style", "style"), ("by expect", "expect")):
        groups: dict[str, list[bool]] = defaultdict(list)
        for v in verdicts:
            groups[getattr(v.case, key)].append(v.passed)
        cells = [f"{group} {sum(ok)}/{len(ok)}" for group, ok in sorted(groups.items())]
        print(f"  {label}: " + ", ".join(cells))
    outcomes: dict[str, int] = defaultdict(int)
    for v in verdicts:
        if not v.passed:
            outcomes[f"{v.case.expect}->{v.outcome.kind}"] += 1
    if outcomes:
        print("  failures (expected->got): " + ", ".join(f"{k} {n}" for k, n in sorted(outcomes.items())))

    timings: list[float] = []
    cpu: list[float] = []
    for _ in range(rounds):
        for case in suite.cases:
            started, started_cpu = time.perf_counter(), time.thread_time()
            with contextlib.suppress(BrainError):
                brain.plan(text=case.text, ui_xml=suite.dumps[case.screen])
            timings.append((time.perf_counter() - started) * 1000)
            cpu.append((time.thread_time() - started_cpu) * 1000)
    turn_plans = [ms for v in verdicts for ms in v.outcome.planning_ms]
    print(
        f"  planning time per instruction ({len(timings)} plans): p50 {percentile(timings, 50):.2f} ms, "
        f"p99 {percentile(timings, 99):.2f} ms, max {max(timings):.2f} ms; "
        f"on the CPU: p50 {percentile(cpu, 50):.2f} ms, p99 {percentile(cpu, 99):.2f} ms; "
        f"first plans, in the turns ({len(turn_plans)}): "
        f"p99 {percentile(turn_plans, 99):.2f} ms"
    )
    for v in [v for v in verdicts if not v.passed] if show else []:
        flag = " SILENTLY WRONG" if v.silently_wrong else ""
        print(f"  wrong{flag}: {v.case.id} [{v.case.style}]: {'; '.join(v.problems)}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="timed passes over each set")
    parser.add_argument("--only", choices=("training", "heldout"), help="judge one set")
    parser.add_argument("--verbose", action="store_true", help="list the training corpus's failures")
    parser.add_argument(
        "--show-failures", action="store_true", help="also list the held-out set's failures (voids it as held out)"
    )
    args = parser.parse_args()

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cognisim_site.settings")
    django.setup()
    from tests.turns.corpus import HELDOUT, TRAINING

    if args.only in (None, "training"):
        report("training corpus", TRAINING, rounds=args.rounds, show=args.verbose or args.show_failures)
    if args.only in (None, "heldout"):
        report("held-out set", HELDOUT, rounds=args.rounds, show=args.show_failures)


if __name__ == "__main__":
    main()
