"""Reliability benchmark: every bad input and fault we know of, what the user sees, the exit
status, and whether anything was lost or left behind. Writes ``reports/bench/reliability.md``.

Each case runs the ``ecom`` CLI in a subprocess inside a throwaway project (two tiny notebooks,
a profile, a shop source file) whose ``reports/`` holds an earlier run; after each case the
earlier report's files are compared by MD5, and the reports folder is searched for temporary
folders and the temp folder for kernel connection files left behind.

Run: ``python -m benchmarks.run reliability``.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "reports" / "bench" / "reliability.md"
ORDERS = (
    "order,customer,sku,created_at,total\n"
    "A1,c1,S1,2024-03-01 09:15:00,5.0\nA2,c2,S2,2024-03-02 10:00:00,3.5\n"
)


def _notebook(path: Path, body: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    params = nbformat.v4.new_code_cell('PROFILE = "default"\nN = 3  # a count; >= 1\nFLAG = True')
    params.metadata["tags"] = ["parameters"]
    nb.metadata["ecom"] = {"parameters": {"N": {"min": 1}}}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A test notebook"),
        params,
        nbformat.v4.new_code_cell(body),
    ]
    nbformat.write(nb, str(path))


def _project(base: Path) -> Path:
    nbdir = base / "notebooks"
    (nbdir / "profiles").mkdir(parents=True)
    _notebook(nbdir / "01_ok.ipynb", "from ecomlib.report import record\nrecord('n', N)")
    _notebook(nbdir / "02_slow.ipynb", "import time\ntime.sleep(120)")
    (nbdir / "profiles" / "smoke.yaml").write_text("01_ok: {N: 5}\n")
    (base / "bad_profile.yaml").write_text("01_ok: {N: [1,\n")
    (base / "typo_profile.yaml").write_text("01_ok: {NN: 1}\n")
    (base / "a_file").write_text("x")
    (base / "broken.ipynb").write_text("{not json")
    (base / "orders.csv").write_text(ORDERS)
    (base / "shop.yaml").write_text(
        "name: shop\ntimezone: Europe/Berlin\ntables:\n  transactions: {path: orders.csv, "
        "columns: {order: basket_id, customer: household_id, sku: product_id, "
        "created_at: transaction_timestamp, total: sales_value}}\n"
    )
    (base / "bad_map.yaml").write_text(
        "name: shop\ntables:\n  transactions: {path: orders.csv, columns: {nope: sales_value}}\n"
    )
    (base / "bad_zone.yaml").write_text(
        (base / "shop.yaml").read_text().replace("Europe/Berlin", "Mars/Olympus")
    )
    (base / "future.csv").write_text(ORDERS.replace("2024-03-02", "2099-03-02"))
    (base / "future.yaml").write_text(
        (base / "shop.yaml").read_text().replace("orders.csv", "future.csv")
    )
    (base / "inf.csv").write_text(
        "household_id,basket_id,product_id,quantity,sales_value,transaction_timestamp\n"
        "1,1,1,1,inf,2024-01-01\n"
    )
    (base / "latin.csv").write_bytes("a,b\ncaf\xe9,1\n".encode("latin-1"))
    return base


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


CASES = [  # (what, argv, expected exit)
    ("unknown parameter", ["run", "01", "-p", "NOPE", "1"], 1),
    ("value out of range", ["run", "01", "-p", "N", "-5"], 1),
    ("wrong type", ["run", "01", "-p", "N", "abc"], 1),
    ("flag as yes / 1", ["run", "01", "-p", "FLAG", "yes", "--run-name", "flag-yes"], 0),
    ("unknown notebook", ["run", "07"], 1),
    ("notebook that is not JSON", ["run", "{base}/broken.ipynb"], 1),
    ("unknown profile", ["run", "01", "--profile", "nope"], 1),
    ("malformed profile YAML", ["run", "01", "--profile", "{base}/bad_profile.yaml"], 1),
    ("typo inside a profile", ["run", "01", "--profile", "{base}/typo_profile.yaml"], 1),
    ("--out is a file", ["run", "01", "--out", "{base}/a_file"], 1),
    ("--out under a file", ["run", "01", "--out", "{base}/a_file/sub"], 1),
    ("--run-name escaping the folder", ["run", "01", "--run-name", "../escaped"], 1),
    ("--run-name with '#'", ["run", "01", "--run-name", "a#b"], 1),
    ("relative --out", ["run", "01", "--out", "rel-out", "--run-name", "rel"], 0),
    ("same notebook twice", ["run", "01", "01", "--run-name", "twice"], 0),
    ("absent data source", ["run", "01", "--data", "{base}/none.yaml"], 1),
    ("mapping to an absent column", ["data", "check", "--data", "{base}/bad_map.yaml"], 1),
    ("unknown time zone", ["data", "check", "--data", "{base}/bad_zone.yaml"], 1),
    ("dates in the future", ["data", "check", "--data", "{base}/future.yaml"], 1),
    ("inf sales value (file)", ["data", "check", "{base}/inf.csv", "--schema", "transactions"], 1),
    ("Latin-1 file", ["data", "check", "{base}/latin.csv", "--schema", "transactions"], 1),
    ("good source", ["data", "check", "--data", "{base}/shop.yaml"], 0),
]


def _run(argv, base: Path, env) -> subprocess.CompletedProcess:
    args = [a.format(base=base) for a in argv]
    if args[0] == "run" and "--profile" not in args:
        args += ["--profile", "smoke"]
    return subprocess.run(
        [sys.executable, "-m", "ecomlib.cli", *args],
        cwd=base,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _leftovers(base: Path, tmpdir: Path, before: set[str]) -> list[str]:
    left = [p.name for p in (base / "reports").glob(".*") if p.is_dir()]
    left += [p.name for p in tmpdir.glob("tmp*.json") if p.name not in before]
    return left


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = _project(Path(tmp) / "project")
        tmpdir = Path(tmp) / "tmp"
        tmpdir.mkdir()
        env = {
            **os.environ,
            "ECOM_HOME": str(base),
            "ECOM_REPORTS_DIR": str(base / "reports"),
            "TMPDIR": str(tmpdir),
            "ECOM_PROGRESS": "0",
        }
        first = _run(["run", "01", "--profile", "smoke", "--run-name", "earlier"], base, env)
        assert first.returncode == 0, first.stderr
        earlier = _digest(base / "reports" / "earlier")
        for what, argv, expected in CASES:
            before = {p.name for p in tmpdir.glob("tmp*.json")}
            proc = _run(argv, base, env)
            message = (
                proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or [""]
            )[-1]
            intact = _digest(base / "reports" / "earlier") == earlier
            left = _leftovers(base, tmpdir, before)
            rows.append(
                (
                    what,
                    message,
                    proc.returncode,
                    expected,
                    "Traceback" not in proc.stderr,
                    intact,
                    left,
                )
            )
        # SIGTERM while the second notebook runs: the first is kept, nothing left behind
        before = {p.name for p in tmpdir.glob("tmp*.json")}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ecomlib.cli",
                "run",
                "01",
                "02",
                "--profile",
                "smoke",
                "--run-name",
                "stopped",
            ],
            cwd=base,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.time() + 120
        while time.time() < deadline and not any(
            (p / "01_ok.html").exists() for p in (base / "reports").glob(".stopped.*")
        ):
            time.sleep(0.5)
        time.sleep(3)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
        kept = base / "reports" / "interrupted-stopped" / "metrics.json"
        ok_kept = (
            kept.exists() and json.loads(kept.read_text())["notebooks"]["01_ok"]["status"] == "ok"
        )
        rows.append(
            (
                "SIGTERM during the second notebook",
                (stderr.strip().splitlines() or [""])[-1],
                proc.returncode,
                130,
                "Traceback" not in stderr and ok_kept,
                _digest(base / "reports" / "earlier") == earlier,
                _leftovers(base, tmpdir, before),
            )
        )
    lines = [
        "# Reliability: bad input and faults",
        "",
        "Generated by `python -m benchmarks.run reliability`. Each row is one `ecom` command in a "
        "throwaway project that already holds a report; *earlier report intact* compares its "
        "files by MD5, *left behind* lists hidden temporary run folders and new kernel "
        "connection files.",
        "",
        "| case | what the user sees (last line) | exit | expected | one message, no traceback | "
        "earlier report intact | left behind | all green |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for what, message, code, expected, clean, intact, left in rows:
        green = code == expected and clean and intact and not left
        msg = message.replace("|", "\\|")[:160]
        lines.append(
            f"| {what} | {msg} | {code} | {expected} | {'yes' if clean else 'no'} | "
            f"{'yes' if intact else 'no'} | {', '.join(left) or '-'} | {'yes' if green else '**no**'} |"
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
