"""Data sources: one YAML file names a shop's tables; every module reads canonical views.

A source file maps a shop's own exports (CSV, Parquet or a glob of Parquet files) onto the
canonical tables and column names of the project (``transactions``, ``products``, ...)::

    name: my-shop
    timezone: Europe/Berlin          # the shop's local zone: local days are formed in it
    currency: EUR
    tables:
      transactions:
        path: exports/orders.csv     # relative paths start at the source file's folder
        columns: {order_id: basket_id, customer: household_id, sku: product_id,
                  created_at: transaction_timestamp, qty: quantity, total: sales_value}
      products: {path: exports/products.csv, columns: {sku: product_id, cat: product_category}}

:func:`open_source` reads and checks the file (keys, paths, mappings); :meth:`Source.connect`
returns a DuckDB connection with one view per table, with canonical names and types, ids as
BIGINT (text ids are encoded consistently across tables) and ``transaction_timestamp`` as UTC.
Nothing is loaded into pandas: the views read the files where they lie. The bundled datasets
are source files of their own (``ecomlib/data/sources/*.yaml``) and take the same path.

>>> src = open_source("")                 # the bundled default: The Complete Journey
>>> con = src.connect()
>>> con.execute("SELECT count(*) FROM transactions").fetchone()
(1469307,)
"""

from __future__ import annotations

import glob as globlib
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ecomlib.errors import DataError, DatasetNotFound

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

log = logging.getLogger(__name__)

SOURCES_DIR = Path(__file__).with_name("sources")
DEFAULT_SOURCE = "completejourney"

# Canonical columns per table: name -> (kind, required). Kinds: "id" (BIGINT; text ids are
# encoded), "number" (integers stay BIGINT, else DOUBLE), "double", "text", "timestamp",
# "int". Columns a file has beyond these pass through under their own names.
CANONICAL: dict[str, dict[str, tuple[str, bool]]] = {
    "transactions": {
        "household_id": ("id", False),
        "basket_id": ("id", False),
        "product_id": ("id", False),
        "store_id": ("id", False),
        "quantity": ("number", False),
        "sales_value": ("double", True),
        "retail_disc": ("double", False),
        "coupon_disc": ("double", False),
        "coupon_match_disc": ("double", False),
        "transaction_timestamp": ("timestamp", True),
    },
    "products": {
        "product_id": ("id", True),
        "department": ("text", False),
        "product_category": ("text", False),
        "product_type": ("text", False),
        "brand": ("text", False),
    },
    "customers": {"household_id": ("id", True)},
    "promotions": {
        "product_id": ("id", True),
        "store_id": ("id", False),
        "display_location": ("text", False),
        "mailer_location": ("text", False),
        "week": ("int", True),
    },
    "campaigns": {"campaign_id": ("id", True), "household_id": ("id", True)},
    "campaign_descriptions": {
        "campaign_id": ("id", True),
        "campaign_type": ("text", True),
        "start_date": ("timestamp", False),
        "end_date": ("timestamp", False),
    },
    "coupons": {
        "coupon_upc": ("id", True),
        "product_id": ("id", True),
        "campaign_id": ("id", True),
    },
    "coupon_redemptions": {
        "household_id": ("id", True),
        "coupon_upc": ("id", True),
        "campaign_id": ("id", True),
        "redemption_date": ("timestamp", False),
    },
    "reviews": {
        "text": ("text", True),
        "rating": ("double", False),
        "label": ("int", False),
        "product_id": ("text", False),
        "review_date": ("timestamp", False),
        "split": ("text", False),
    },
}
TABLES = (*CANONICAL, "images")
# id columns that name the same thing in several tables: text ids get one shared code
SHARED_KEYS = ("household_id", "product_id", "store_id", "campaign_id", "coupon_upc")
TABLE_OPTIONS = {"path", "columns", "read", "timestamps", "positive_rating", "format"}
SOURCE_KEYS = {
    "name",
    "title",
    "description",
    "timezone",
    "currency",
    "tables",
    "engine",
    "spark",
    "period",
}
SPARK_KEYS = ("master", "remote")


@dataclass
class TableSpec:
    """One table of a source: where it lies and how its columns map onto canonical names."""

    name: str
    path: str  # resolved path or glob (absolute)
    columns: dict[str, str] = field(default_factory=dict)  # file column -> canonical name
    read: dict[str, Any] = field(default_factory=dict)  # options for DuckDB's read_csv
    timestamps: str = "local"  # how naive timestamps are meant: "local" (shop's zone) or "utc"
    positive_rating: float = 4.0  # reviews: rating >= this is a positive label
    format: str = ""  # images: "folder" (<class>/<file>) or "idx" (Fashion-MNIST files)

    def files(self) -> list[Path]:
        """The files this table reads (a glob may match several)."""
        if any(ch in self.path for ch in "*?["):
            return [Path(p) for p in sorted(globlib.glob(self.path, recursive=True))]
        return [Path(self.path)]


@dataclass
class Source:
    """A parsed source file. Use :func:`open_source` to make one."""

    name: str
    path: Path | None
    timezone: str = "UTC"
    timezone_given: bool = True  # False: the file names no ``timezone:`` (UTC assumed)
    currency: str = "USD"
    title: str = ""
    engine: str = ""  # the source file's ``engine:`` ("" = ECOM_ENGINE or duckdb)
    # the source file's ``spark: {master: ...}`` or ``{remote: sc://...}``: where the Spark
    # engine runs unless ECOM_SPARK_MASTER / SPARK_REMOTE say otherwise ({}: local[*])
    spark: dict[str, str] = field(default_factory=dict)
    # the source file's ``period: {start, end}``: the days the sales series (notebook 02)
    # cover unless START/END say otherwise (ISO dates; None: the first / last day of the data)
    period: tuple[str | None, str | None] = (None, None)
    tables: dict[str, TableSpec] = field(default_factory=dict)
    _columns: dict[str, set[str]] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ what is there
    def has(self, table: str) -> bool:
        """Whether the source has ``table`` (``transactions``, ``products``, ``reviews`` ...)."""
        return table in self.tables

    def has_column(self, table: str, column: str) -> bool:
        """Whether ``table`` carries the canonical ``column`` in its file (not derived or NULL)."""
        return self.has(table) and column in self.canonical_columns(table)

    def canonical_columns(self, table: str) -> set[str]:
        """Canonical names of the columns the file of ``table`` provides (after mapping)."""
        if table not in self._columns:
            spec = self.tables[table]
            file_cols = _file_columns(spec)
            self._columns[table] = {spec.columns.get(c, c) for c in file_cols}
        return self._columns[table]

    def describe(self) -> str:
        """One line: name, location and tables."""
        where = f" ({self.path})" if self.path else ""
        return f"{self.name}{where}: {', '.join(self.tables)}"

    def fingerprint(self) -> list[dict[str, Any]]:
        """Size and modification time of every file the source reads (for run manifests)."""
        out = []
        for spec in self.tables.values():
            for f in spec.files():
                if f.is_file():
                    st = f.stat()
                    out.append({"path": str(f), "bytes": st.st_size, "mtime": int(st.st_mtime)})
        return out

    # ------------------------------------------------------------------ views
    def connect(
        self, threads: int | None = None, memory_limit: str | None = None
    ) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with one canonical view per table of the source.

        Parameters
        ----------
        threads : DuckDB threads (None: DuckDB's default, all cores).
        memory_limit : DuckDB memory limit such as ``"1GB"`` (None: DuckDB's default).
        """
        import duckdb

        con = duckdb.connect()
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute("SET TimeZone = 'UTC'")
        # no progress widget in notebooks: a slow query on a busy machine would print one
        con.execute("SET enable_progress_bar = false")
        for name, spec in self.tables.items():
            if name != "images":
                con.execute(f"CREATE VIEW _raw_{name} AS {_raw_sql(spec)}")
        encoded = _encode_keys(con, self)
        for name in self.tables:
            if name != "images":
                con.execute(f"CREATE VIEW {name} AS {self.view_sql(con, name, encoded)}")
        return con

    def open_engine(self, threads: int | None = None, memory_limit: str | None = None):
        """The canonical views on the engine this run uses: ``ECOM_ENGINE`` (set by
        ``ecom run --engine``), else the source file's ``engine:``, else DuckDB.

        The result answers DuckDB's ``execute(sql).df()`` on either engine, so every function
        that takes a connection takes it; ``threads`` / ``memory_limit`` apply to DuckDB."""
        from ecomlib.data.engines import connect

        return connect(self, threads=threads, memory_limit=memory_limit)

    def view_sql(self, con, table: str, encoded: set[str] = frozenset()) -> str:
        """The SELECT that turns ``_raw_<table>`` into the canonical view: mapped columns cast
        to canonical types (inner query), then derived columns (outer query)."""
        spec = self.tables[table]
        raw_types = {r[0]: r[1] for r in con.execute(f"DESCRIBE _raw_{table}").fetchall()}
        sources = _sources(spec, table, raw_types)
        inner, outer, joins = [], [], []
        for col, (kind, _required) in CANONICAL[table].items():
            src = sources.get(col)
            if src is None:
                outer.append(f"{_derived(table, col, self, kind)} AS {col}")
                continue
            if kind == "id" and col in encoded:
                joins.append(
                    f"LEFT JOIN _keys_{col} AS _k_{col} ON _k_{col}.key = CAST(r.{_q(src)} AS VARCHAR)"
                )
                expr = f"_k_{col}.code"
            else:
                expr = _cast(f"r.{_q(src)}", raw_types[src], kind, spec, self.timezone)
            inner.append(f"{expr} AS {col}")
            outer.append(col)
        used = set(sources.values())
        for src, typ in raw_types.items():  # pass-through columns keep their (mapped) names
            out = spec.columns.get(src, src)
            if src in used or out in CANONICAL[table]:
                continue
            expr = (
                f"timezone('UTC', r.{_q(src)})"
                if typ.startswith("TIMESTAMP WITH")
                else f"r.{_q(src)}"
            )
            inner.append(f"{expr} AS {_q(out)}")
            outer.append(_q(out))
        body = f"SELECT {', '.join(inner) or '1 AS _one'} FROM _raw_{table} AS r {' '.join(joins)}"
        return f"SELECT {', '.join(outer)} FROM ({body})"

    # ------------------------------------------------------------------ small tables
    def reviews(self) -> pd.DataFrame:
        """The ``reviews`` table as a DataFrame: ``text, label, rating, product, review_date,
        split`` (label 1 = positive: the file's label, else ``rating >= positive_rating``)."""
        self.require("reviews")
        with self.connect() as con:
            frame = con.execute(
                "SELECT text, label, rating, product_id AS product, review_date, split FROM reviews"
            ).df()
        frame["label"] = frame["label"].astype("Int64")
        return frame

    def images(self) -> tuple:
        """The ``images`` table: ``(x_train, y_train, x_test, y_test, class_names)`` for the
        ``idx`` format; for a ``folder`` of ``<class>/<file>.jpg|png`` a seeded 80/20 split of
        :func:`ecomlib.vision.load_image_folder` (28 x 28 grey)."""
        self.require("images")
        spec = self.tables["images"]
        if spec.format == "idx":
            from ecomlib.data.loaders import load_fashion_mnist_from

            return load_fashion_mnist_from(Path(spec.path))
        import numpy as np
        from sklearn.model_selection import train_test_split

        from ecomlib.vision.data import load_image_folder

        folder = load_image_folder(Path(spec.path))
        counts = np.bincount(folder.labels)
        strat = folder.labels if counts.min() >= 2 else None
        tr, te = train_test_split(
            np.arange(len(folder)), test_size=0.2, random_state=0, stratify=strat
        )
        x, y = folder.images, folder.labels
        return x[tr], y[tr], x[te], y[te], folder.classes

    def require(self, table: str, columns: tuple[str, ...] = ()) -> None:
        """Raise :class:`DataError` naming the source when a table or column is absent."""
        if not self.has(table):
            raise DataError(
                f"data source {self.name!r} has no {table!r} table; add it under 'tables:' in "
                f"{self.path or 'its source file'} (see `ecom data init`)."
            )
        missing = [c for c in columns if not self.has_column(table, c)]
        if missing:
            raise DataError(
                f"data source {self.name!r}: table {table!r} has no column "
                f"{', '.join(map(repr, missing))}; map a file column onto it under "
                f"tables.{table}.columns in {self.path or 'its source file'}."
            )


# ---------------------------------------------------------------------- reading the file
def bundled_sources() -> dict[str, Path]:
    """Bundled source files by name."""
    return {p.stem: p for p in sorted(SOURCES_DIR.glob("*.yaml"))}


def resolve_source_path(spec: str | os.PathLike | None) -> Path:
    """The YAML file behind ``spec``: empty = the default, a bundled name, or a path."""
    text = str(spec or "").strip() or DEFAULT_SOURCE
    bundled = bundled_sources()
    if text in bundled:
        return bundled[text]
    path = Path(text).expanduser()
    if path.suffix.lower() not in (".yaml", ".yml") and not path.exists():
        raise DataError(
            f"Unknown data source {text!r}: neither a bundled source "
            f"({', '.join(bundled)}) nor a .yaml file. Write one with `ecom data init FILE.yaml`."
        )
    if not path.is_file():
        raise DataError(
            f"data source file {path.resolve()} not found. Write a template with "
            f"`ecom data init {path}`, or use a bundled source ({', '.join(bundled)})."
        )
    return path.resolve()


def open_source(spec: str | os.PathLike | None = None) -> Source:
    """Read a source file and check its structure (keys, paths, column mappings).

    Parameters
    ----------
    spec : ``""``/None for the bundled default (The Complete Journey), the name of a bundled
        source (``completejourney``, ``cdnow``, ``pizzaplace``) or the path of a YAML file.

    Raises
    ------
    DataError
        Naming the file and the key that is wrong, and how to fix it.
    """
    path = resolve_source_path(spec)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise DataError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; save the source file as UTF-8.") from None
    return _parse(doc, path)


def _parse(doc: Any, path: Path) -> Source:
    where = str(path)
    if not isinstance(doc, dict):
        raise DataError(f"{where}: expected a mapping with 'name' and 'tables', got {doc!r:.60}.")
    unknown = set(doc) - SOURCE_KEYS
    if unknown:
        raise DataError(
            f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(SOURCE_KEYS)}."
        )
    tz = str(doc.get("timezone") or "UTC")
    _check_timezone(tz, where)
    engine = str(doc.get("engine") or "").strip().lower()
    if engine and engine not in ("duckdb", "spark"):
        raise DataError(f"{where}: engine: {engine!r} is not an engine; use duckdb or spark.")
    spark = _parse_spark(doc.get("spark"), where)
    period = _parse_period(doc.get("period"), where)
    tables = doc.get("tables")
    if not isinstance(tables, dict) or not tables:
        raise DataError(f"{where}: 'tables' must map table names to {{path: ...}} entries.")
    bad = [t for t in tables if t not in TABLES]
    if bad:
        raise DataError(
            f"{where}: unknown table key(s) {bad} under 'tables'; known tables: {', '.join(TABLES)}."
        )
    source = Source(
        name=str(doc.get("name") or path.stem),
        path=path,
        timezone=tz,
        timezone_given=bool(doc.get("timezone")),
        currency=str(doc.get("currency") or "USD"),
        title=str(doc.get("title") or doc.get("name") or path.stem),
        engine=engine,
        spark=spark,
        period=period,
    )
    for name, entry in tables.items():
        source.tables[name] = _parse_table(name, entry, path)
    if "transactions" not in source.tables and not ({"reviews", "images"} & set(source.tables)):
        raise DataError(f"{where}: a source needs a 'transactions' table (one row per order line).")
    for name in source.tables:
        if name != "images":
            _check_mapping(source, name)
    return source


_MASTER = re.compile(r"(?i)^(local(\[\s*(\d+|\*)\s*(,\s*\d+\s*)?\])?|yarn|(spark|sc|k8s)://\S+)$")


def _parse_spark(entry: Any, where: str) -> dict[str, str]:
    """``spark: {master: spark://host:7077}`` or ``{remote: sc://host:15002}`` -> the one
    setting given ({} when the key is absent or empty)."""
    example = "{remote: sc://HOST:15002} or {master: spark://HOST:7077}"
    if entry is None:
        return {}
    if not isinstance(entry, dict):
        raise DataError(f"{where}: spark must be a mapping such as {example}, got {entry!r:.60}.")
    unknown = [str(k) for k in entry if k not in SPARK_KEYS]
    if unknown:
        raise DataError(
            f"{where}: unknown key(s) {unknown} under spark; allowed: {', '.join(SPARK_KEYS)}."
        )
    out = {}
    for key in SPARK_KEYS:
        value = entry.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise DataError(
                f"{where}: spark.{key} must be a string such as "
                f"{'sc://HOST:15002' if key == 'remote' else 'spark://HOST:7077'}, "
                f"got {value!r:.60} ({type(value).__name__})."
            )
        value = value.strip()
        if key == "remote" and not value.lower().startswith("sc://"):
            raise DataError(
                f"{where}: spark.remote: {value!r:.60} is not a Spark Connect address; "
                "use sc://HOST:PORT (default port 15002)."
            )
        if key == "master" and not _MASTER.match(value):
            raise DataError(
                f"{where}: spark.master: {value!r:.60} is not a Spark master; use local[N], "
                "spark://HOST:PORT, yarn, k8s://URL or sc://HOST:PORT (Spark Connect)."
            )
        out[key] = value
    if len(out) > 1:
        raise DataError(
            f"{where}: give spark.master or spark.remote, not both (remote: a Spark Connect "
            "server; master: a cluster whose driver runs here)."
        )
    return out


def _parse_period(entry: Any, where: str) -> tuple[str | None, str | None]:
    """``period: {start: 2017-01-01, end: 2017-12-31}`` -> ISO dates (either may be absent)."""
    if entry is None:
        return (None, None)
    if not isinstance(entry, dict) or set(entry) - {"start", "end"}:
        raise DataError(
            f"{where}: period must be a mapping with 'start' and/or 'end' dates "
            f"(e.g. {{start: 2017-01-01, end: 2017-12-31}}), got {entry!r:.60}."
        )
    import pandas as pd

    out = []
    for key in ("start", "end"):
        value = entry.get(key)
        if value in (None, ""):
            out.append(None)
            continue
        try:
            out.append(pd.Timestamp(str(value)).date().isoformat())
        except ValueError:
            raise DataError(
                f"{where}: period.{key}: {value!r} is not a date; write it as YYYY-MM-DD."
            ) from None
    if out[0] and out[1] and out[0] > out[1]:
        raise DataError(f"{where}: period.start {out[0]} is after period.end {out[1]}.")
    return (out[0], out[1])


def _parse_table(name: str, entry: Any, path: Path) -> TableSpec:
    key = f"{path}: tables.{name}"
    if isinstance(entry, str):
        entry = {"path": entry}
    if not isinstance(entry, dict) or "path" not in entry:
        raise DataError(f"{key} needs a 'path' (a file, a folder or a glob of Parquet files).")
    unknown = set(entry) - TABLE_OPTIONS
    if unknown:
        raise DataError(
            f"{key}: unknown option(s) {sorted(unknown)}; allowed: {sorted(TABLE_OPTIONS)}."
        )
    columns = entry.get("columns") or {}
    if not isinstance(columns, dict):
        raise DataError(f"{key}.columns must map file columns to canonical names.")
    columns = {str(k): str(v) for k, v in columns.items()}
    canon = CANONICAL.get(name, {})
    targets = [v for v in columns.values()]
    dupes = sorted({v for v in targets if targets.count(v) > 1})
    if dupes:
        raise DataError(f"{key}.columns maps several file columns onto {dupes}; keep one each.")
    timestamps = str(entry.get("timestamps", "local"))
    if timestamps not in ("local", "utc"):
        raise DataError(f"{key}.timestamps must be 'local' or 'utc', got {timestamps!r}.")
    raw_path = _expand(str(entry["path"]), key)
    full = raw_path if os.path.isabs(raw_path) else str((path.parent / raw_path).resolve())
    spec = TableSpec(
        name=name,
        path=full,
        columns=columns,
        read=dict(entry.get("read") or {}),
        timestamps=timestamps,
        positive_rating=float(entry.get("positive_rating", 4.0)),
        format=str(entry.get("format") or ("folder" if name == "images" else "")),
    )
    files = spec.files()
    if not files or not all(f.exists() for f in files):
        hint = " (no file matches the glob)" if any(ch in raw_path for ch in "*?[") else ""
        fetch = " Run `ecom data fetch` (or `make data`)." if "{" in str(entry["path"]) else ""
        raise DatasetNotFound(f"{key}.path: {full} does not exist{hint}.{fetch}")
    if name == "images":
        if spec.format not in ("folder", "idx"):
            raise DataError(f"{key}.format must be 'folder' or 'idx', got {spec.format!r}.")
        return spec
    bad_targets = [v for v in columns.values() if canon and v not in canon and v in CANONICAL]
    if bad_targets:
        raise DataError(f"{key}.columns: {bad_targets} are table names, not column names.")
    return spec


def _expand(text: str, key: str) -> str:
    """Expand ``{dataset:NAME}`` (a catalog dataset's folder) and ``{data}`` (ECOM_DATA_DIR)."""
    from ecomlib import config
    from ecomlib.data.catalog import get

    def repl(m: re.Match) -> str:
        token = m.group(1)
        if token == "data":
            return str(config.data_dir())
        if token.startswith("dataset:"):
            return str(get(token.split(":", 1)[1]).location())
        raise DataError(
            f"{key}.path: unknown placeholder {{{token}}}; use {{data}} or {{dataset:NAME}}."
        )

    return os.path.expanduser(re.sub(r"\{([^{}]+)\}", repl, text))


def _check_timezone(tz: str, where: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise DataError(
            f"{where}: timezone {tz!r} is not a known IANA time zone; use a name such as "
            "'Europe/Berlin', 'America/New_York' or 'UTC'."
        ) from None


def _file_columns(spec: TableSpec) -> list[str]:
    import duckdb

    try:
        with duckdb.connect() as con:
            return [r[0] for r in con.execute(f"DESCRIBE {_read_sql(spec)}").fetchall()]
    except duckdb.Error as exc:
        msg = str(exc).splitlines()[0][:300]
        raise DataError(f"tables.{spec.name}: cannot read {spec.path}: {msg}") from None


def _check_mapping(source: Source, table: str) -> None:
    spec = source.tables[table]
    key = f"{source.path}: tables.{table}"
    file_cols = _file_columns(spec)
    missing_src = [c for c in spec.columns if c not in file_cols]
    if missing_src:
        raise DataError(
            f"{key}.columns maps {missing_src}, which the file does not have. "
            f"File columns: {file_cols}."
        )
    have = {spec.columns.get(c, c) for c in file_cols}
    required = [c for c, (_k, req) in CANONICAL[table].items() if req and c not in have]
    if required:
        raise DataError(
            f"{key}: required column(s) {required} are not in the file and not mapped. "
            f"File columns: {file_cols}. Map them under tables.{table}.columns, e.g. "
            f"{{{file_cols[0] if file_cols else 'your_column'}: {required[0]}}}."
        )


# ---------------------------------------------------------------------- SQL pieces
def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _raw_sql(spec: TableSpec) -> str:
    """The SELECT of a table's file, with its timestamp columns read as text from CSV so that
    bare local times and times with a UTC offset are told apart (:func:`_cast`)."""
    cols = {c: "" for c in _file_columns(spec)}
    stamps = [
        src
        for col, src in _sources(spec, spec.name, cols).items()
        if CANONICAL[spec.name][col][0] == "timestamp"
    ]
    return _read_sql(spec, varchar=stamps)


def _read_sql(spec: TableSpec, varchar: list[str] | tuple = ()) -> str:
    path = _lit(spec.path)
    lower = spec.path.lower()
    if lower.endswith((".parquet", ".pq")) or spec.path.endswith("*"):
        return f"SELECT * FROM read_parquet({path}, union_by_name = true)"
    opts = {"header": True, **spec.read}
    if varchar:
        opts["types"] = {**{c: "VARCHAR" for c in varchar}, **dict(opts.get("types") or {})}
    args = ", ".join(f"{k} = {_opt(v)}" for k, v in opts.items())
    return f"SELECT * FROM read_csv({path}, {args})"


def _opt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_opt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_lit(k)}: {_opt(v)}" for k, v in value.items()) + "}"
    return _lit(value)


OFFSET_RE = r"([+-]\d\d(:?\d\d)?|Z|UTC)$"
_INT_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "HUGEINT",
)


def _cast(expr: str, raw: str, kind: str, spec: TableSpec, tz: str) -> str:
    if kind == "id":
        return expr if raw == "BIGINT" else f"TRY_CAST({expr} AS BIGINT)"
    if kind == "number":
        return expr if raw in _INT_TYPES else f"TRY_CAST({expr} AS DOUBLE)"
    if kind == "double":
        return expr if raw == "DOUBLE" else f"TRY_CAST({expr} AS DOUBLE)"
    if kind == "int":
        return expr if raw == "BIGINT" else f"TRY_CAST({expr} AS BIGINT)"
    if kind == "text":
        return expr if raw == "VARCHAR" else f"CAST({expr} AS VARCHAR)"
    if kind == "timestamp":
        if raw.startswith("TIMESTAMP WITH TIME ZONE"):
            return f"timezone('UTC', {expr})"
        local = spec.timestamps == "local" and tz != "UTC"
        if raw == "VARCHAR":
            fmt = spec.read.get("timestampformat") or spec.read.get("dateformat")
            bare = f"try_strptime({expr}, {_lit(fmt)})" if fmt else f"TRY_CAST({expr} AS TIMESTAMP)"
            if local:
                bare = f"timezone('UTC', timezone({_lit(tz)}, {bare}))"
            # a value with a UTC offset is an instant; a bare one is the shop's wall time
            return (
                f"CASE WHEN regexp_matches({expr}, '{OFFSET_RE}') "
                f"THEN timezone('UTC', TRY_CAST({expr} AS TIMESTAMPTZ)) ELSE {bare} END"
            )
        ts = expr if raw == "TIMESTAMP" else f"TRY_CAST({expr} AS TIMESTAMP)"
        return f"timezone('UTC', timezone({_lit(tz)}, {ts}))" if local else ts
    raise ValueError(kind)


def _sources(spec: TableSpec, table: str, raw_types: dict[str, str]) -> dict[str, str]:
    """Canonical column -> the file column it comes from (mapped, or of the same name)."""
    out = {dst: src for src, dst in spec.columns.items() if dst in CANONICAL[table]}
    for col in CANONICAL[table]:
        if col not in out and col in raw_types and col not in spec.columns:
            out[col] = col
    return out


def _derived(table: str, col: str, source: Source, kind: str) -> str:
    """What a canonical column is when the file has none."""
    if table == "transactions" and col == "quantity":
        return "CAST(1 AS BIGINT)"
    if table == "transactions" and col == "basket_id":
        if source.has_column("transactions", "household_id"):
            # one basket per customer and moment (e.g. CDNOW: one purchase per customer-day)
            return (
                "CAST(dense_rank() OVER (ORDER BY household_id, transaction_timestamp) AS BIGINT)"
            )
        return "CAST(row_number() OVER () AS BIGINT)"
    if table == "reviews" and col == "label" and source.has_column("reviews", "rating"):
        pos = source.tables["reviews"].positive_rating
        return f"CAST(CASE WHEN rating IS NULL THEN NULL WHEN rating >= {pos} THEN 1 ELSE 0 END AS BIGINT)"
    sql_type = {
        "id": "BIGINT",
        "int": "BIGINT",
        "number": "DOUBLE",
        "double": "DOUBLE",
        "text": "VARCHAR",
        "timestamp": "TIMESTAMP",
    }[kind]
    return f"CAST(NULL AS {sql_type})"


def _encode_keys(con, source: Source) -> set[str]:
    """Give text ids (e.g. 'SKU-001') one BIGINT code per key, shared by every table."""
    users: dict[str, list[tuple[str, str]]] = {}
    for name, spec in source.tables.items():
        if name == "images":
            continue
        raw_types = {r[0]: r[1] for r in con.execute(f"DESCRIBE _raw_{name}").fetchall()}
        for col, src in _sources(spec, name, raw_types).items():
            if CANONICAL[name][col][0] == "id":
                users.setdefault(col, []).append((name, src, raw_types[src]))
    encoded = set()
    for col, uses in users.items():
        if all(t in _INT_TYPES for _n, _s, t in uses):
            continue
        if all(_castable(con, n, s) for n, s, _t in uses):
            continue  # text that holds integers ("00042"): cast, no code needed
        union = " UNION ".join(
            f"SELECT DISTINCT CAST({_q(s)} AS VARCHAR) AS key FROM _raw_{n} WHERE {_q(s)} IS NOT NULL"
            for n, s, _t in uses
        )
        con.execute(
            f"CREATE TEMP TABLE _keys_{col} AS SELECT key, "
            f"CAST(row_number() OVER (ORDER BY key) AS BIGINT) AS code FROM ({union})"
        )
        encoded.add(col)
    return encoded


def _castable(con, table: str, col: str) -> bool:
    bad = con.execute(
        f"SELECT count(*) FROM _raw_{table} WHERE {_q(col)} IS NOT NULL "
        f"AND TRY_CAST({_q(col)} AS BIGINT) IS NULL"
    ).fetchone()[0]
    return bad == 0


def key_table(con, column: str) -> pd.DataFrame | None:
    """The original text ids behind an encoded id column (``key``, ``code``), or None."""
    try:
        return con.execute(f"SELECT key, code FROM _keys_{column}").df()
    except Exception:  # the column was not encoded
        return None


TEMPLATE = """\
# A data source for ecom-analytics: your shop's tables and how their columns are called.
# Check it with `ecom data check --data {file}`, then `ecom run --data {file}`.
# Paths are relative to this file's folder (or absolute); CSV, Parquet or a glob of Parquet
# files ("exports/orders/*.parquet"). Under `columns`, map YOUR column -> canonical name;
# columns already named canonically need no entry. Delete the tables you do not have.
name: my-shop
timezone: Europe/Berlin          # IANA zone of the shop: local days are formed in it
currency: EUR
# engine: spark                  # run the heavy queries on Apache Spark (default duckdb)
# spark: {{remote: sc://spark-host:15002}}  # Spark Connect server (or master: spark://HOST:7077);
#                                # default local[*]; ECOM_SPARK_MASTER / SPARK_REMOTE win
# period: {{start: 2024-01-01, end: 2024-12-31}}  # days of the sales series (default: all)
tables:
  transactions:                  # required: one row per order line
    path: exports/orders.csv
    # timestamps: local          # naive times in the file are local (default) or utc
    # read: {{delim: ';', decimal_separator: ',', timestampformat: '%d.%m.%Y %H:%M'}}
    columns:
      order_id: basket_id        # optional: one basket per customer and timestamp when absent
      customer: household_id     # optional: without it the per-customer sections are skipped
      sku: product_id            # optional: without it the per-product sections are skipped
      created_at: transaction_timestamp   # required
      qty: quantity              # optional (1 per line when absent)
      total: sales_value         # required: amount paid for the line
  products:                      # optional: product_id plus department / product_category /
    path: exports/products.csv   #   product_type / brand
    columns: {{sku: product_id, cat: product_category}}
  # customers:  {{path: exports/customers.parquet, columns: {{customer: household_id}}}}
  # promotions: {{path: exports/promo_plan.csv}}  # product_id, week, display_location, ...
  # reviews:    {{path: exports/reviews.csv, columns: {{body: text, stars: rating}},
  #               positive_rating: 4}}         # rating >= 4 counts as a positive review
  # images:     {{path: exports/photos/}}        # <class>/<file>.jpg|png
"""


def write_template(path: str | os.PathLike, force: bool = False) -> Path:
    """Write the commented source-file template of ``ecom data init`` to ``path``."""
    path = Path(path)
    if path.exists() and not force:
        raise DataError(f"{path} already exists; pass --force to overwrite it.")
    if not path.parent.is_dir():
        raise DataError(f"folder {path.parent.resolve()} does not exist; create it first.")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(TEMPLATE.format(file=path.name), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DataError(f"cannot write {path}: {exc.strerror}.") from None
    return path
