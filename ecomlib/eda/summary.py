"""The one-page Markdown summary of notebook 01."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd


def summary_path(filename: str = "01_eda_summary.md") -> Path:
    """Where to write the one-page summary: next to the run's metrics when the notebook runs
    under ``ecom run`` (``$ECOM_METRICS_FILE``), else ``reports/``."""
    from ecomlib import config

    target = os.environ.get("ECOM_METRICS_FILE")
    folder = Path(target).parent if target else config.reports_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder / filename


def summary_markdown(
    title: str,
    headline: dict[str, str],
    tables: dict[str, pd.DataFrame] | None = None,
    findings: Sequence[str] = (),
) -> str:
    """A one-page Markdown summary: headline figures, key findings, small tables."""
    lines = [f"# {title}", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in headline.items()]
    if findings:
        lines += ["", "## Key findings", ""] + [f"- {f}" for f in findings]
    for name, table in (tables or {}).items():
        lines += ["", f"## {name}", "", _plain_markdown(table)]
    return "\n".join(lines) + "\n"


def _plain_markdown(table: pd.DataFrame) -> str:
    """A Markdown table without the optional ``tabulate`` dependency."""
    frame = table.reset_index()
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    sep = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(map(str, row)) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, sep, *body])
