"""Offline planner: planning accuracy on the corpus and planning time per instruction.

    python bench/agent.py [--rounds N] [--verbose]

Accuracy is the share of corpus instructions (`tests/turns/corpus.yaml`) whose plan equals
the expected one (same steps, same question/remaining/error outcome). Time is one
`OfflineBrain().plan(...)` call on the instruction and its screen's UI dump, measured
N rounds over the whole corpus; prints p50 / p99 in milliseconds.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.turns.corpus import load, run  # noqa: E402
from turns.brains import BrainError, OfflineBrain  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="timed passes over the corpus")
    parser.add_argument("--verbose", action="store_true", help="print every instruction planned wrong")
    args = parser.parse_args()

    corpus = load()
    brain = OfflineBrain()
    wrong = [(case, problems) for case in corpus.cases if (problems := run(brain, case, corpus.dumps[case.screen]))]
    right = len(corpus.cases) - len(wrong)

    timings: list[float] = []
    for _ in range(args.rounds):
        for case in corpus.cases:
            started = time.perf_counter()
            with contextlib.suppress(BrainError):
                brain.plan(text=case.text, ui_xml=corpus.dumps[case.screen])
            timings.append((time.perf_counter() - started) * 1000)

    print(f"corpus: {len(corpus.cases)} instructions on {len(corpus.dumps)} screens")
    print(f"accuracy: {right}/{len(corpus.cases)} = {right / len(corpus.cases):.1%}")
    print(
        f"planning time per instruction ({len(timings)} plans): p50 {percentile(timings, 50):.2f} ms, "
        f"p99 {percentile(timings, 99):.2f} ms, max {max(timings):.2f} ms"
    )
    for case, problems in wrong if args.verbose else []:
        print(f"  wrong: {case.id}: {'; '.join(problems)}")


if __name__ == "__main__":
    main()
