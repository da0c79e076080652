"""pandera schemas for the canonical tables, and validation of a user's own files.

:func:`read_table` reads a CSV or Parquet file, renames columns through an optional mapping,
validates it against a named schema and raises :class:`~ecomlib.errors.DataError` with a
readable report (file, column, rule, a few offending rows) when it does not fit.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from ecomlib.errors import DataError

_nonneg = pa.Check.ge(0)
_finite = pa.Check(
    lambda s: np.isfinite(s.astype(float)), element_wise=False, error="finite (no inf/NaN)"
)

SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "transactions": pa.DataFrameSchema(
        {
            "household_id": pa.Column("int64", nullable=False),
            "basket_id": pa.Column("int64", nullable=False),
            "product_id": pa.Column("int64", nullable=False),
            "store_id": pa.Column("int64", nullable=True, required=False),
            # float: a fractional quantity (goods sold by weight) is kept, never truncated
            "quantity": pa.Column("float64", [_nonneg, _finite], nullable=False),
            "sales_value": pa.Column("float64", [_nonneg, _finite], nullable=False),
            "retail_disc": pa.Column("float64", nullable=True, required=False),
            "coupon_disc": pa.Column("float64", nullable=True, required=False),
            "coupon_match_disc": pa.Column("float64", nullable=True, required=False),
            "transaction_timestamp": pa.Column("datetime64[ns]", nullable=False),
        },
        unique=["basket_id", "product_id"],
        coerce=True,
        strict=False,
        name="transactions",
    ),
    "products": pa.DataFrameSchema(
        {
            "product_id": pa.Column("int64", unique=True, nullable=False),
            "department": pa.Column(str, nullable=True, required=False),
            "product_category": pa.Column(str, nullable=True, required=False),
        },
        coerce=True,
        name="products",
    ),
    "series": pa.DataFrameSchema(
        {
            "unique_id": pa.Column(str, nullable=False),
            "ds": pa.Column("datetime64[ns]", nullable=False),
            "y": pa.Column("float64", nullable=False),
        },
        unique=["unique_id", "ds"],
        coerce=True,
        name="series",
    ),
    "interactions": pa.DataFrameSchema(
        {
            "user_id": pa.Column(nullable=False),
            "item_id": pa.Column(nullable=False),
            "weight": pa.Column("float64", nullable=False, required=False),
            "timestamp": pa.Column(nullable=True, required=False),
        },
        coerce=True,
        name="interactions",
    ),
    "reviews": pa.DataFrameSchema(
        {
            "text": pa.Column(str, pa.Check.str_length(min_value=1), nullable=False),
            "label": pa.Column("int64", pa.Check.isin([0, 1]), nullable=False),
        },
        coerce=True,
        name="reviews",
    ),
}


def _describe_failures(err: pa.errors.SchemaErrors, source: str, max_rows: int = 5) -> str:
    cases = err.failure_cases
    schema = err.schema
    lines = [f"{source} does not match the {schema.name!r} schema:"]
    bad_type: set = set()  # columns whose values cannot be converted: later checks are noise
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
        idx = [int(i) for i in group["index"].tolist() if i is not None and i == i][:max_rows]
        vals = group["failure_case"].astype(str).tolist()[:max_rows]
        rule = str(check)
        if rule.startswith("column_in_dataframe"):
            for missing in group["failure_case"].astype(str).tolist():  # every one, not 5
                lines.append(f"  - column {missing!r} is required but missing")
            continue
        if rule == "multiple_fields_uniqueness":
            key = ", ".join(schema.unique or [])
            if any(f"duplicate key ({key})" in line for line in lines):
                continue
            lines.append(f"  - duplicate key ({key}): rows {sorted(set(idx))} repeat a key")
            continue
        if column in bad_type:
            continue
        if rule.startswith("coerce_dtype"):
            bad_type.add(column)
            rule = f"type {rule.split('(', 1)[1].rstrip(')')} (values cannot be converted)"
        rows = f" rows {idx}" if idx else ""
        hint = ""
        if "float" in rule and any(re.fullmatch(r"-?\d+,\d+", v) for v in vals):
            hint = (
                " Decimal commas: re-export with '.' as the decimal separator, or describe the "
                "file in a source file with read: {decimal_separator: ','} (ecom data init)."
            )
        lines.append(
            f"  - column {column!r} fails {rule}:{rows} values {vals} ({len(group)} failing in all)"
            + hint
        )
    return "\n".join(lines)


def validate(frame: pd.DataFrame, schema: str, source: str = "table") -> pd.DataFrame:
    """Validate ``frame`` against ``SCHEMAS[schema]``; return the coerced frame.

    Raises
    ------
    DataError
        With every failing column, rule and a few offending rows.
    """
    if schema not in SCHEMAS:
        raise DataError(f"Unknown schema {schema!r}. Known schemas: {', '.join(sorted(SCHEMAS))}.")
    if frame.empty:
        raise DataError(f"{source} has no rows; the {schema!r} schema needs at least one.")
    problems = _timestamp_problems(frame, SCHEMAS[schema])
    if problems:
        raise DataError(f"{source} does not match the {schema!r} schema:\n" + "\n".join(problems))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return SCHEMAS[schema].validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        raise DataError(_describe_failures(err, source)) from None


_OFFSET = r"(?:[+-]\d\d(?::?\d\d)?|Z)$"


def _timestamp_problems(frame: pd.DataFrame, schema: pa.DataFrameSchema, max_rows: int = 5):
    """Text date columns that mix UTC offsets with bare times, or several formats: one line
    each with the offending rows (pandera would only say 'cannot be converted')."""
    lines = []
    for name, col in schema.columns.items():
        if name not in frame or "datetime" not in str(col.dtype):
            continue
        values = frame[name]
        if not (values.dtype == object or pd.api.types.is_string_dtype(values)):
            continue
        text = values.dropna().astype(str).str.strip()
        has_off = text.str.contains(_OFFSET, regex=True)
        if has_off.any() and (~has_off).any():
            rows = text.index[has_off].tolist()[:max_rows]
            lines.append(
                f"  - column {name!r}: time zones are mixed: {int(has_off.sum())} value(s) carry a "
                f"UTC offset (rows {rows}), {int((~has_off).sum())} do not; export every "
                "timestamp the same way."
            )
            continue
        parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=bool(has_off.any()))
        bad = parsed.isna()
        if bad.any():
            rows = text.index[bad].tolist()[:max_rows]
            lines.append(
                f"  - column {name!r}: {int(bad.sum())} value(s) are not dates in one format "
                f"(YYYY-MM-DD[ hh:mm[:ss]]): rows {rows} values "
                f"{text[bad].tolist()[:max_rows]}; export dates in one ISO format."
            )
    return lines


def read_file(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file with clear errors for absent, empty or unreadable files."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found.")
    if path.is_dir():
        raise DataError(f"{path}: is a folder; give a .csv or .parquet file.")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty.")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt", ".tsv"):
            with open(path, "rb") as fh:
                head = fh.read(4096)
            if b"\x00" in head:
                raise DataError(f"{path}: looks binary, not CSV text.")
            sep = "\t" if suffix == ".tsv" else None
            try:  # utf-8-sig: a byte-order mark (Excel's "CSV UTF-8") is not part of a name
                frame = pd.read_csv(
                    path, sep=sep, engine="python" if sep is None else "c", encoding="utf-8-sig"
                )
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at position "
                    f"{exc.start}); save the file as UTF-8 (in Excel: 'CSV UTF-8'), or convert it "
                    f"with `iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8{suffix}`."
                ) from None
            if frame.shape[1] < 2:
                raise DataError(
                    f"{path}: parsed into a single column {list(frame.columns)[:1]}; "
                    "is it really a comma/semicolon/tab separated file with a header row?"
                )
            return frame
    except DataError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many types for bad files
        raise DataError(f"{path}: cannot be read as {suffix.lstrip('.')} ({exc}).") from None
    raise DataError(f"{path}: unsupported file type {suffix!r}; use .csv or .parquet.")


def apply_column_map(
    frame: pd.DataFrame, columns: Mapping[str, str] | None, source: str = "table"
) -> pd.DataFrame:
    """Rename a user's columns to canonical names, refusing names the file does not have."""
    if not columns:
        return frame
    unknown = [c for c in columns if c not in frame.columns]
    if unknown:
        raise DataError(
            f"{source}: column mapping names columns that are not in the file: "
            f"{unknown}. File columns: {list(frame.columns)}."
        )
    return frame.rename(columns=dict(columns))


def read_table(
    path: str | Path, schema: str, columns: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Read a user's CSV/Parquet into a canonical table and validate it.

    Parameters
    ----------
    path : path to a .csv or .parquet file.
    schema : one of :data:`SCHEMAS` ("transactions", "series", "interactions", ...).
    columns : mapping from the file's column names to canonical names, e.g.
        ``{"customer": "household_id", "amount": "sales_value"}``.
    """
    frame = apply_column_map(read_file(path), columns, source=str(path))
    return validate(frame, schema, source=str(path))
