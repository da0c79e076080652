"""``reports/index.html``: every run, its notebooks, status, duration, peak memory and headline
metrics."""

from __future__ import annotations

import html
import json
from pathlib import Path

from ecomlib.report.metrics import atomic_target

HEADLINE_LIMIT = 6

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{margin-bottom:.2rem} .sub{color:#666;margin-top:0}
table{border-collapse:collapse;width:100%;margin:1rem 0 2rem}
th,td{border-bottom:1px solid #ddd;padding:.45rem .6rem;text-align:left;vertical-align:top;font-size:.92rem}
th{background:#f4f6f8} .ok{color:#137333;font-weight:600} .failed{color:#c5221f;font-weight:600}
.skipped{color:#80868b;font-weight:600}
code{background:#f4f6f8;padding:0 .25rem;border-radius:3px;font-size:.85rem}
"""


# Without explicit headline=True records: results first, then baselines' results, then the
# rest; timings and sizes last.
_RESULT_WORDS = ("best", "test_", "accuracy", "auc", "mase", "ndcg", "recall", "lift")
_BASELINE_WORDS = ("majority", "popularity", "random", "naive", "baseline", "tfidf", "frozen")
_COST_WORDS = ("seconds", "rows", "size", "bytes")


def _rank(name: str) -> int:
    """Sort key of a metric name for the fallback headline (lower shows first)."""
    n = name.lower()
    if n.startswith("n_") or any(w in n for w in _COST_WORDS):
        return 3
    if any(w in n for w in _RESULT_WORDS):
        return 1 if any(w in n for w in _BASELINE_WORDS) else 0
    return 2


def _headline(metrics: dict, names: list[str] | None = None) -> str:
    """The metrics recorded with ``headline=True``, else numeric ones, results first."""
    if names:
        items = [(k, metrics[k]) for k in names if k in metrics][:HEADLINE_LIMIT]
    else:
        numeric = [
            (k, v)
            for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        ]
        numeric.sort(key=lambda kv: _rank(kv[0]))
        items = numeric[:HEADLINE_LIMIT]
    parts = [f"<code>{html.escape(k)}</code> {html.escape(_number(v))}" for k, v in items]
    return "<br>".join(parts) or "&ndash;"


def _number(v) -> str:
    """A metric as people read it: thousands separators for counts and large amounts,
    four significant digits otherwise (``1,469,307``, ``4,596,040``, ``0.859``)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int) or abs(v) >= 10_000:
        return f"{v:,.0f}"
    return f"{v:.4g}"


def write_index(reports: Path) -> Path:
    """(Re)write ``<reports>/index.html`` from the ``metrics.json`` of each run folder."""
    reports = Path(reports)
    runs = []
    for summary in reports.glob("*/metrics.json"):
        try:
            runs.append((summary.parent, json.loads(summary.read_text())))
        except (OSError, json.JSONDecodeError):
            continue
    runs.sort(key=lambda r: r[1].get("started", ""), reverse=True)
    sections = []
    for run_dir, info in runs:
        rows = []
        for name, nb in info.get("notebooks", {}).items():
            status = nb.get("status", "?")
            page = run_dir.name + f"/{name}.html"
            link = (
                f'<a href="{html.escape(page)}">{html.escape(name)}</a>'
                if (reports / page).exists()
                else html.escape(name)
            )
            secs = nb.get("seconds")
            secs_txt = (
                f"{secs:.0f} s" if isinstance(secs, (int, float)) and secs == secs else "&ndash;"
            )
            peak = nb.get("peak_mb")
            peak_txt = (
                f"{peak / 1024:.1f} GB"
                if isinstance(peak, (int, float)) and peak > 0
                else "&ndash;"
            )
            detail = (
                html.escape(nb.get("error") or "")
                if status != "ok"
                else _headline(nb.get("metrics", {}), nb.get("headline"))
            )
            rows.append(
                f"<tr><td>{link}</td><td class='{status}'>{status}</td>"
                f"<td>{secs_txt}</td><td>{peak_txt}</td><td>{detail}</td></tr>"
            )
        files = sorted(
            f.name
            for f in run_dir.iterdir()
            if f.is_file() and (f.suffix in (".csv", ".md") or f.name == "metrics.json")
        )
        links = " ".join(
            f"<a href='{html.escape(run_dir.name + '/' + f)}'>{html.escape(f)}</a>" for f in files
        )
        total = info.get("seconds")
        total_txt = f", {total / 60:.1f} min" if isinstance(total, (int, float)) else ""
        commit = info.get("commit")
        commit_txt = f", commit <code>{html.escape(commit)}</code>" if commit else ""
        source = info.get("data") or {}
        source_txt = html.escape(str(source.get("name") or "completejourney (bundled default)"))
        if source.get("path"):
            source_txt = f"<span title='{html.escape(source['path'])}'>{source_txt}</span>"
        sections.append(
            f"<h2>{html.escape(run_dir.name)}</h2><p class='sub'>data <code>{source_txt}</code>, "
            f"profile <code>{html.escape(str(info.get('profile')))}</code>, started "
            f"{html.escape(str(info.get('started')))}{total_txt}{commit_txt}"
            + (f"<br>files: {links}" if links else "")
            + "</p><table><tr><th>notebook</th><th>status</th>"
            f"<th>duration</th><th title='peak resident memory of the notebook&#39;s kernel'>"
            f"peak memory</th><th>headline metrics</th></tr>{''.join(rows)}</table>"
        )
    body = "".join(sections) or "<p>No runs yet: <code>make report</code> creates one.</p>"
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>ecom-analytics reports"
        f"</title><style>{_STYLE}</style></head><body><h1>ecom-analytics reports</h1>"
        f"<p class='sub'>Newest run first. Each notebook links to its HTML report.</p>"
        f"{body}</body></html>"
    )
    target = reports / "index.html"
    with atomic_target(target) as tmp:  # concurrent runs each write their own
        tmp.write_text(page, encoding="utf-8")
    return target
