"""Notebook parameters: what each one is, what it may be, checked before a kernel starts.

A notebook declares its parameters once, next to it: the ``parameters`` cell gives each
name, its default (and so its type) and, in the comment after it, one line of help; the
notebook's metadata adds the allowed values or range of those that need one::

    {"ecom": {"parameters": {"HORIZON": {"min": 1}, "MODEL": {"choices": ["resnet", "seed"]},
                             "OUTLIER_QUANTILE": {"min": 0, "max": 1, "exclusive": true},
                             "MODELS": {"choices_from": "ecomlib.forecast.zoo:MODEL_NAMES"}}}}

(``choices_from`` names a sequence in the library, so a list of model names is kept once.)

Some rules hold by name in every notebook: ``SEED`` >= 0; ``DEVICE`` is auto, cpu, mps,
cuda or cuda:N, and cuda needs a visible GPU; ``*TIMEZONE`` is an IANA zone (or empty);
``DATA`` names a data source that exists. :func:`check_values` returns one message per bad
value; ``ecom params NOTEBOOK`` prints the table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


@dataclass
class Parameter:
    """One notebook parameter: default, help line and the declared constraint."""

    name: str
    default: Any
    help: str = ""
    rule: dict[str, Any] = field(default_factory=dict)

    def describe_rule(self) -> str:
        """The constraint in words (``>= 1``, ``one of: a, b``), or ''."""
        r = self.rule
        parts = []
        if "choices" in r:
            parts.append("one of: " + ", ".join(map(str, r["choices"])))
        lo, hi, strict = r.get("min"), r.get("max"), r.get("exclusive", False)
        if lo is not None and hi is not None:
            parts.append(f"{lo} {'<' if strict else '<='} x {'<' if strict else '<='} {hi}")
        elif lo is not None:
            parts.append(f"{'>' if strict else '>='} {lo}")
        elif hi is not None:
            parts.append(f"{'<' if strict else '<='} {hi}")
        if r.get("zero_means"):
            parts.append(f"0 = {r['zero_means']}")
        return "; ".join(parts)


def declared(path: Path) -> list[Parameter]:
    """The parameters of the notebook at ``path``: parameters cell + ``ecom.parameters``."""
    from ecomlib.report.runner import notebook_parameters, read_notebook

    nb = read_notebook(path)
    rules = nb.metadata.get("ecom", {}).get("parameters", {})
    helps = _help_lines(nb)
    return [
        Parameter(name, default, helps.get(name, ""), _resolve_rule(dict(rules.get(name, {}))))
        for name, default in notebook_parameters(path).items()
    ]


def _resolve_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """``choices_from: "module:NAME"`` -> ``choices``: the library's sequence of that name."""
    ref = rule.pop("choices_from", None)
    if ref:
        import importlib

        module, _, attr = ref.partition(":")
        rule["choices"] = list(getattr(importlib.import_module(module), attr))
    return rule


def _help_lines(nb) -> dict[str, str]:
    """``NAME = value  # help`` comments of the parameters cell."""
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            out = {}
            for line in cell.source.splitlines():
                m = re.match(r"^([A-Za-z_]\w*)\s*(?::[^=]+)?=.*?#\s*(.+)$", line)
                if m:
                    out[m.group(1)] = m.group(2).strip()
            return out
    return {}


def check_values(path: Path, params: dict[str, Any]) -> list[str]:
    """One message per parameter value outside what the notebook allows."""
    rules = {p.name: p for p in declared(path)}
    problems = []
    for name, value in params.items():
        p = rules.get(name)
        if p is None or value is None:
            continue
        msg = _check_one(p, value)
        if msg:
            problems.append(f"{name}={value!r}: {msg}")
    return problems


def _check_one(p: Parameter, value: Any) -> str | None:
    name = p.name
    if name == "DEVICE" and isinstance(value, str):
        if not DEVICE.match(value):
            return "use auto, cpu, mps, cuda or cuda:N"
        if value.startswith("cuda") and not _cuda_available():
            return "no CUDA GPU is visible here; use DEVICE auto or cpu"
    if name.endswith("TIMEZONE") and isinstance(value, str) and value:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            return "not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)"
    if name == "SEED" and isinstance(value, int) and value < 0:
        return "must be >= 0"
    if name == "DATA" and isinstance(value, str) and value:
        from ecomlib.data.source import resolve_source_path
        from ecomlib.errors import EcomError

        try:
            resolve_source_path(value)
        except EcomError as exc:
            return str(exc)
    r = p.rule
    values = value if isinstance(value, list) and "choices" in r else [value]
    if "choices" in r:
        bad = [v for v in values if v not in r["choices"]]
        if bad:
            return f"{', '.join(map(repr, bad))} not allowed; choose from {', '.join(map(str, r['choices']))}"
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if ("min" in r or "max" in r) and not numeric and not isinstance(value, list):
        return f"expects a number ({p.describe_rule()})"
    if numeric:
        if r.get("zero_means") and value == 0:
            return None
        lo, hi, strict = r.get("min"), r.get("max"), r.get("exclusive", False)
        if lo is not None and (value <= lo if strict else value < lo):
            return f"must be {p.describe_rule()}"
        if hi is not None and (value >= hi if strict else value > hi):
            return f"must be {p.describe_rule()}"
    return None


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return torch.cuda.is_available()


def table(path: Path) -> list[dict[str, Any]]:
    """Rows for ``ecom params``: name, default, the value in each profile, allowed, help."""
    from ecomlib.report.runner import load_profile, notebooks_dir

    profiles = sorted(p.stem for p in (notebooks_dir() / "profiles").glob("*.yaml"))
    values = {prof: load_profile(prof, path.stem) for prof in profiles}
    rows = []
    for p in declared(path):
        row = {"name": p.name, "default": p.default}
        for prof in profiles:
            row[prof] = values[prof].get(p.name, "")
        row["allowed"] = p.describe_rule()
        row["help"] = p.help
        rows.append(row)
    return rows
