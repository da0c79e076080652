"""`make bench`: run every benchmark module and write tables to reports/bench/.

Each module in this package exposes ``main()`` that runs one protocol of
docs/protocols.md and writes ``reports/bench/<area>.md``. Run one with
``python -m benchmarks.run forecast``.
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from pathlib import Path

AREAS = (
    "eda",
    "forecast",
    "vision",
    "nlp",
    "recsys",
    "own_data",
    "clv",
    "reliability",
    "report_speed",
    "scale",
)


def main(argv: list[str] | None = None) -> int:
    areas = (argv if argv is not None else sys.argv[1:]) or list(AREAS)
    out = Path(__file__).resolve().parent.parent / "reports" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    failures = []
    for area in areas:
        t0 = time.perf_counter()
        print(f"== benchmark {area}", flush=True)
        try:
            importlib.import_module(f"benchmarks.{area}").main()
        except Exception:  # report every failure, run the rest
            traceback.print_exc()
            failures.append(area)
        print(f"== {area} done in {time.perf_counter() - t0:.0f} s", flush=True)
    index = ["# Benchmarks", "", "| area | table |", "|---|---|"]
    index += [f"| {a} | [{a}.md]({a}.md) |" for a in AREAS if (out / f"{a}.md").exists()]
    (out / "README.md").write_text("\n".join(index) + "\n")
    if failures:
        print(f"failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
