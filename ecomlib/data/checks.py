"""``ecom data check --data SOURCE``: validate every table of a source and the links between
them, in SQL on the canonical views (no table is loaded into pandas).

Each rule gives a :class:`Finding` (``error`` fails the check, ``warning`` is reported only):
values that cannot be converted to the canonical type, missing values in required columns,
negative or infinite amounts, duplicate product ids, empty tables, dates in the future, timestamps that mix UTC offsets with bare times,
and order lines whose product, or whose customer, the other tables do not know.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ecomlib.data.source import (
    CANONICAL,
    OFFSET_RE,
    Source,
    _cast,
    _file_columns,
    _q,
    _sources,
)
from ecomlib.errors import DataError

MAX_EXAMPLES = 5
FK_ERROR_SHARE = 0.01  # unresolved product links above this share of order lines fail the check


@dataclass
class Finding:
    """One problem found: severity, table, column (or ''), message."""

    level: str  # "error" or "warning"
    table: str
    column: str
    message: str

    def line(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        return f"  {self.level:7s} {where}: {self.message}"


@dataclass
class CheckReport:
    """What :func:`check_source` found, with row counts per table."""

    source: Source
    rows: dict[str, int]
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not any(f.level == "error" for f in self.findings)

    def text(self) -> str:
        """The readable report printed by ``ecom data check``."""
        head = f"data source {self.source.name!r} ({self.source.path}):"
        lines = [head]
        for table, n in self.rows.items():
            lines.append(f"  {table:22s} {n:>12,} rows")
        if self.findings:
            lines.append("")
            lines += [f.line() for f in self.findings]
        n_err = sum(f.level == "error" for f in self.findings)
        n_warn = len(self.findings) - n_err
        verdict = "OK" if self.ok else "FAILED"
        lines.append(f"{verdict}: {n_err} error(s), {n_warn} warning(s).")
        return "\n".join(lines)


def _examples(con, sql: str) -> str:
    vals = [str(r[0]) for r in con.execute(f"{sql} LIMIT {MAX_EXAMPLES}").fetchall()]
    return ", ".join(repr(v) for v in vals)


def check_source(source: Source, now: dt.datetime | None = None) -> CheckReport:
    """Validate every table of ``source`` and the links between them.

    Parameters
    ----------
    source : the parsed source (:func:`ecomlib.data.open_source`).
    now : the moment after which timestamps count as "in the future" (default: now, UTC).

    The checks run on :meth:`Source.open_engine` (DuckDB, or Spark with ``ECOM_ENGINE=spark``).
    """
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con = source.open_engine()
    findings: list[Finding] = []
    rows: dict[str, int] = {}
    local = [t for t, spec in source.tables.items() if spec.timestamps == "local"]
    if not source.timezone_given and "transactions" in local:
        findings.append(
            Finding(
                "warning",
                "transactions",
                "",
                "the source file names no timezone: its timestamps are read as UTC and days "
                "are UTC days; add `timezone: Area/City` (e.g. Europe/Berlin) for local days.",
            )
        )
    try:
        for table, spec in source.tables.items():
            if table == "images":
                rows[table] = _count_images(spec)
                if not rows[table]:
                    findings.append(Finding("error", table, "", f"no images under {spec.path}."))
                continue
            n = con.execute(f"SELECT count(*) FROM _raw_{table}").fetchone()[0]
            rows[table] = n
            if n == 0:
                findings.append(Finding("error", table, "", f"the file {spec.path} has no rows."))
                continue
            findings += _column_checks(con, source, table, now)
        findings += _link_checks(con, source, rows)
    finally:
        con.close()
    return CheckReport(source, rows, findings)


def _count_images(spec) -> int:
    from pathlib import Path

    root = Path(spec.path)
    if spec.format == "idx":
        from ecomlib.data.loaders import read_idx

        labels = sorted(root.glob("*labels-idx1-ubyte*"))
        return sum(len(read_idx(p)) for p in labels)
    exts = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"}
    return sum(1 for p in root.glob("*/*") if p.suffix.lower() in exts)


def _column_checks(con, source: Source, table: str, now: dt.datetime) -> list[Finding]:
    spec = source.tables[table]
    raw_types = {r[0]: r[1] for r in con.execute(f"DESCRIBE _raw_{table}").fetchall()}
    out: list[Finding] = []
    for col, src in _sources(spec, table, raw_types).items():
        kind, required = CANONICAL[table][col]
        rq, cq = _q(src), _q(col)
        label = col if src == col else f"{col} (file column {src!r})"
        # values present in the file that the canonical type cannot hold
        if kind in ("number", "double", "int", "timestamp") and raw_types[src] == "VARCHAR":
            cast = _cast(rq, "VARCHAR", kind, spec, source.timezone)
            bad_sql = f"SELECT {rq} FROM _raw_{table} WHERE {rq} IS NOT NULL AND ({cast}) IS NULL"
            bad = con.execute(f"SELECT count(*) FROM ({bad_sql})").fetchone()[0]
            if bad:
                want = "a date/time" if kind == "timestamp" else "a number"
                ex = _examples(con, bad_sql)
                msg = f"{bad:,} value(s) are not {want}: {ex}.{_format_hint(kind, ex)}"
                out.append(Finding("error", table, label, msg))
        nulls = con.execute(f"SELECT count(*) FROM _raw_{table} WHERE {rq} IS NULL").fetchone()[0]
        if required and nulls:
            out.append(
                Finding("error", table, label, f"{nulls:,} row(s) have no value; it is required.")
            )
        if kind in ("double", "number") and col in ("sales_value", "quantity"):
            neg, inf = con.execute(
                f"SELECT count(*) FILTER (WHERE {cq} < 0), "
                f"count(*) FILTER (WHERE isinf(CAST({cq} AS DOUBLE)) OR isnan(CAST({cq} AS DOUBLE))) "
                f"FROM {table}"
            ).fetchone()
            if inf:
                out.append(Finding("error", table, label, f"{inf:,} value(s) are infinite or NaN."))
            if neg:
                out.append(
                    Finding(
                        "error",
                        table,
                        label,
                        f"{neg:,} negative value(s) (returns?); keep sales and returns apart, "
                        "or filter returns out of the export.",
                    )
                )
        if kind == "timestamp":
            out += _timestamp_checks(con, source, table, src, col, raw_types[src], label, now)
    if table == "products" and source.has_column("products", "product_id"):
        dup = con.execute(
            "SELECT count(*) FROM (SELECT product_id FROM products GROUP BY 1 HAVING count(*) > 1)"
        ).fetchone()[0]
        if dup:
            ex = _examples(con, "SELECT product_id FROM products GROUP BY 1 HAVING count(*) > 1")
            out.append(
                Finding("error", table, "product_id", f"{dup:,} id(s) appear more than once: {ex}.")
            )
    return out


def _format_hint(kind: str, examples: str) -> str:
    if kind in ("number", "double") and "," in examples.replace("', '", ""):
        return (
            " Decimal commas? Set tables.<table>.read: {decimal_separator: ','} "
            "(and a ';' delim) in the source file."
        )
    if kind == "timestamp":
        return (
            " Set tables.<table>.read: {timestampformat: '%d/%m/%Y %H:%M'} (your format) "
            "in the source file."
        )
    return ""


def _timestamp_checks(con, source, table, src, col, raw_type, label, now) -> list[Finding]:
    out = []
    rq, cq = _q(src), _q(col)
    if raw_type == "VARCHAR":
        with_off, without = con.execute(
            f"SELECT count(*) FILTER (WHERE regexp_matches({rq}, '{OFFSET_RE}')), "
            f"count(*) FILTER (WHERE NOT regexp_matches({rq}, '{OFFSET_RE}')) "
            f"FROM _raw_{table} WHERE {rq} IS NOT NULL"
        ).fetchone()
        if with_off and without:
            out.append(
                Finding(
                    "error",
                    table,
                    label,
                    f"time zones are mixed: {with_off:,} value(s) carry a UTC offset, "
                    f"{without:,} do not; export every timestamp the same way.",
                )
            )
    future = con.execute(
        f"SELECT count(*), max({cq}) FROM {table} WHERE {cq} > TIMESTAMP '{now:%Y-%m-%d %H:%M:%S}'"
    ).fetchone()
    if future[0]:
        out.append(
            Finding(
                "error",
                table,
                label,
                f"{future[0]:,} timestamp(s) lie in the future (latest {future[1]}); "
                "check the time zone and the date format.",
            )
        )
    return out


def _link_checks(con, source: Source, rows: dict[str, int]) -> list[Finding]:
    out = []
    if not source.has("transactions") or not rows.get("transactions"):
        return out
    if (
        source.has("products")
        and rows.get("products")
        and source.has_column("transactions", "product_id")
    ):
        n_bad, n_lines = con.execute(
            "SELECT count(*) FILTER (WHERE p.product_id IS NULL), count(*) FROM transactions t "
            "LEFT JOIN (SELECT DISTINCT product_id FROM products) p USING (product_id) "
            "WHERE t.product_id IS NOT NULL"
        ).fetchone()
        if n_bad:
            ex = _examples(
                con,
                "SELECT DISTINCT t.product_id FROM transactions t ANTI JOIN products p "
                "USING (product_id) WHERE t.product_id IS NOT NULL",
            )
            share = n_bad / max(n_lines, 1)
            level = "error" if share > FK_ERROR_SHARE else "warning"
            out.append(
                Finding(
                    level,
                    "transactions",
                    "product_id",
                    f"{n_bad:,} order line(s) ({share:.1%}) name a product that is not in "
                    f"products: {ex}. Export the full product list, or remove those lines.",
                )
            )
    if (
        source.has("customers")
        and rows.get("customers")
        and source.has_column("transactions", "household_id")
    ):
        n_bad, n_all = con.execute(
            "SELECT count(*) FILTER (WHERE c.household_id IS NULL), count(*) FROM "
            "(SELECT DISTINCT household_id FROM transactions WHERE household_id IS NOT NULL) t "
            "LEFT JOIN (SELECT DISTINCT household_id FROM customers) c USING (household_id)"
        ).fetchone()
        if n_bad:
            out.append(
                Finding(
                    "warning",
                    "customers",
                    "household_id",
                    f"{n_bad:,} of {n_all:,} customers who bought are not in customers "
                    "(their attributes are unknown; sections by customer attributes use the rest).",
                )
            )
    return out


def check_file_columns(source: Source, table: str) -> list[str]:
    """The file's column names of ``table`` (for error messages)."""
    return _file_columns(source.tables[table])


def require_ok(source: Source) -> CheckReport:
    """Run :func:`check_source`; raise :class:`DataError` with the report when it fails."""
    report = check_source(source)
    if not report.ok:
        raise DataError(report.text())
    return report


__all__ = ["CheckReport", "Finding", "check_source", "require_ok"]
