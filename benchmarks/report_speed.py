"""Report speed: a cold ``ecom run --profile full`` (empty step cache), a warm re-run with
unchanged data, and a re-run with one parameter changed. Writes ``reports/bench/report_speed.md``.

Every run goes through the ``ecom`` CLI in a subprocess with its own ``ECOM_CACHE_DIR`` (so the
project's cache is neither used nor touched) and its own output folder; the table reads each
run's ``metrics.json``: seconds per notebook, the slowest cells, and which cached steps were
replayed. ``SPEED_REPEATS=N`` (default 1) repeats the cold + warm pair N times and reports the
medians. Run: ``python -m benchmarks.run report_speed`` (about 30 minutes a round on 2 cores).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.measure import run_measured

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "reports" / "bench" / "report_speed.md"
ECOM = [sys.executable, "-m", "ecomlib.cli"]
BUDGET_S = {"02_sales_forecasting": 180, "04_review_nlp": 480}
# one parameter that only some of a notebook's work depends on: 06's bootstrap resamples feed
# the leaderboard's interval, so its cached study recomputes while everything else replays
CHANGE = ("06", "N_BOOT", "500")


def _run(out: Path, cache: Path, name: str, *args: str) -> tuple[dict, float]:
    env = {**os.environ, "ECOM_CACHE_DIR": str(cache), "ECOM_PROGRESS": "0"}
    m = run_measured(
        [*ECOM, "run", *args, "--profile", "full", "--out", str(out), "--run-name", name],
        cwd=ROOT,
        env=env,
    )
    if m.returncode != 0:
        raise RuntimeError(f"ecom run {name} failed ({m.returncode}):\n{m.stderr[-3000:]}")
    return json.loads((out / name / "metrics.json").read_text()), m.seconds


def _cached(nb: dict) -> str:
    steps = (nb.get("metrics") or {}).get("cache") or {}
    return ", ".join(f"{k} {'hit' if v['hit'] else 'miss'}" for k, v in steps.items()) or "-"


def _slowest(nb: dict, n: int = 2) -> str:
    cells = sorted(nb.get("cells") or [], key=lambda c: -c[1])[:n]
    return "; ".join(f"cell {c[0]} {c[1]:.0f} s ({c[2][:40]})" for c in cells) or "-"


def _repeat(n: int) -> dict[str, list[tuple[dict, float]]]:
    """``n`` rounds of cold + warm runs, each round on an empty cache of its own; the
    one-parameter run follows the last warm run."""
    runs: dict[str, list[tuple[dict, float]]] = {"cold": [], "warm": [], "param": []}
    with tempfile.TemporaryDirectory(prefix="ecom-speed-") as tmp:
        tmp = Path(tmp)
        for r in range(n):
            cache = tmp / f"cache{r}"
            for name in ("cold", "warm"):
                print(f"report_speed: {name} run {r + 1} of {n}", flush=True)
                runs[name].append(_run(tmp / "runs", cache, f"{name}{r}"))
        print("report_speed: param run", flush=True)
        runs["param"].append(_run(tmp / "runs", cache, "param", CHANGE[0], "-p", *CHANGE[1:]))
    return runs


def _median_run(runs: list[tuple[dict, float]]) -> tuple[dict, float, str]:
    """The run of median wall time, and the range of all (for the table)."""
    ordered = sorted(runs, key=lambda r: r[1])
    metrics, seconds = ordered[(len(ordered) - 1) // 2]
    spread = f" ({ordered[0][1]:.0f}-{ordered[-1][1]:.0f})" if len(ordered) > 1 else ""
    return metrics, seconds, spread


def main() -> None:
    n = int(os.environ.get("SPEED_REPEATS", "1"))
    runs = _repeat(n)
    cold, cold_s, cold_range = _median_run(runs["cold"])
    warm, warm_s, warm_range = _median_run(runs["warm"])
    param, param_s, _ = _median_run(runs["param"])
    lines = [
        "# Report speed (full profile)",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} cores, "
        f"commit {cold.get('commit')}; other work may have shared the machine. Seconds: "
        f"median of {n} round(s) (range in brackets), each round a cold run on an empty step "
        "cache and a warm run (the same command again, data unchanged); per-notebook columns "
        f"come from the median runs. Param: `ecom run {CHANGE[0]} -p {CHANGE[1]} "
        f"{CHANGE[2]}` after the last warm run.",
        "",
        "| run | wall seconds | target |",
        "|---|---|---|",
        f"| cold `ecom run --profile full` | {cold_s:.0f}{cold_range} | <= 900 |",
        f"| warm, unchanged data | {warm_s:.0f}{warm_range} | <= 180 |",
        f"| one parameter changed ({CHANGE[1]} of {CHANGE[0]}) | {param_s:.0f} | - |",
        "",
        "| notebook | cold s | warm s | budget s | cold: slowest cells | warm: slowest cells "
        "| warm: cached steps |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, nb in cold["notebooks"].items():
        w = warm["notebooks"].get(name, {})
        lines.append(
            f"| {name} | {nb['seconds']:.0f} | {w.get('seconds', float('nan')):.0f} | "
            f"{BUDGET_S.get(name, '-')} | {_slowest(nb)} | {_slowest(w, 3)} | {_cached(w)} |"
        )
    for name, nb in param["notebooks"].items():
        lines += ["", f"Param run, {name}: {nb['seconds']:.0f} s; steps: {_cached(nb)}."]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
