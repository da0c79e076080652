"""Engines behind the data-source layer: DuckDB (embedded, the default) and Apache Spark.

Every query of the project is written once, in DuckDB's SQL dialect. On Spark it is
transpiled with sqlglot (:func:`to_spark_sql`), with the few constructs sqlglot passes through
untouched rewritten in one place (:func:`_spark_rewrites`): DuckDB's ``timezone(zone, ts)``,
``try_strptime``, decimal literals (Spark would make ``AVG(CASE ... THEN 1.0 ELSE 0.0 END)`` a
rounded DECIMAL) and naive ``TIMESTAMP`` (the session runs in UTC, so every timestamp is the
UTC wall clock, as in DuckDB's canonical views). The canonical views themselves come from the
same :meth:`Source.view_sql` on both engines; Spark reads the files and casts each column to
the type DuckDB sees, so the view SQL means the same thing on both.

>>> from ecomlib.data.engines import connect
>>> eng = connect("cdnow", engine="spark")          # or ECOM_ENGINE=spark
>>> eng.query("SELECT count(*) AS n FROM transactions")
       n
0  69659

The object returned also answers ``execute(sql).df() / .fetchall() / .fetchone()`` like a DuckDB
connection, so functions written for DuckDB connections (``ecomlib.eda.promotion_lift``,
``ecomlib.forecast.build_series``) run unchanged on Spark.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import importlib.util
import logging
import os
import re
import shutil
import sys
from typing import TYPE_CHECKING

from ecomlib.errors import EcomError

if TYPE_CHECKING:
    import pandas as pd

    from ecomlib.data.source import Source

log = logging.getLogger(__name__)

ENGINES = ("duckdb", "spark")
INSTALL_SPARK = (
    'pip install -c constraints.txt -e ".[spark]" (or `make setup`), and Java 17 '
    "(Debian: apt-get install -y openjdk-17-jre-headless)"
)


# ---------------------------------------------------------------------- availability
def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return os.path.join(home, "bin", "java")
    return shutil.which("java")


def _pyspark_missing() -> str | None:
    try:
        if importlib.util.find_spec("pyspark") is None:
            return "pyspark is not installed"
    except (ImportError, ValueError) as exc:
        return f"pyspark cannot be imported ({exc})"
    if importlib.util.find_spec("sqlglot") is None:
        return "sqlglot is not installed"
    return None


# the ``spark:`` settings of the source last opened by connect() in this process, and its file:
# the master of calls that name no source (a notebook's SparkALS, available_engines())
_LAST_SOURCE: tuple[dict[str, str], str] = ({}, "")


def spark_target(source: Source | None = None) -> tuple[str | None, str]:
    """The Spark master asked for and where it was set: ``ECOM_SPARK_MASTER``, else
    ``SPARK_REMOTE``, else the source file's ``spark: {remote: ...}`` or ``spark: {master:
    ...}`` (``source``; None: the source last opened with :func:`connect` in this process).
    ``(None, "")``: none, Spark runs locally (``local[*]``). A ``sc://`` master is a Spark
    Connect server."""
    for var in ("ECOM_SPARK_MASTER", "SPARK_REMOTE"):
        if os.environ.get(var, "").strip():
            return os.environ[var].strip(), var
    if source is not None:
        spark, path = getattr(source, "spark", None) or {}, str(source.path or "the source file")
    else:
        spark, path = _LAST_SOURCE
    for key in ("remote", "master"):
        if spark.get(key):
            return spark[key], f"spark.{key} in {path}"
    return None, ""


CONNECT_MODULES = {  # what the Spark Connect client imports -> its package
    "grpc": "grpcio",
    "grpc_status": "grpcio-status",
    "google.rpc": "googleapis-common-protos",
    "zstandard": "zstandard",
    "pyarrow": "pyarrow",
}


def _connect_missing() -> list[str]:
    """The packages of the Spark Connect client that are not installed."""
    out = []
    for module, package in CONNECT_MODULES.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            out.append(package)
    return out


def _unreachable(master: str, timeout: float = 3.0) -> str | None:
    """Why the server of a ``sc://`` or ``spark://`` master cannot be reached (a TCP connect of
    at most ``timeout`` seconds), or None; None for local masters and other schemes."""
    import socket

    m = re.match(r"(?i)^(sc|spark)://\[?([^/:;\]]+)\]?(?::(\d+))?", master)
    if not m:
        return None
    host, port = m.group(2), int(m.group(3) or (15002 if m.group(1).lower() == "sc" else 7077))
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        if isinstance(exc, TimeoutError | socket.timeout):
            why = f"no answer in {timeout:g} s"
        return f"cannot reach {master} ({host}:{port}: {why})"


def _unset(origin: str) -> str:
    """How to drop the master set in ``origin`` (an environment variable or a source file)."""
    if origin.startswith("spark."):
        return f"remove {origin}"
    return f"correct or unset {origin or 'ECOM_SPARK_MASTER / SPARK_REMOTE'}"


def _unreachable_help(master: str, why: str, origin: str = "") -> str:
    start = (
        "start a Spark Connect server there ($SPARK_HOME/sbin/start-connect-server.sh)"
        if master.lower().startswith("sc://")
        else "start the Spark master there ($SPARK_HOME/sbin/start-master.sh)"
    )
    return (
        f"{why}; {start}, {_unset(origin)} to run Spark locally (local[*]), or use --engine duckdb"
    )


def available_engines(source: Source | None = None) -> dict[str, str | None]:
    """Engine name -> None when it can run here, else why not and how to install it.

    With a remote master (:func:`spark_target` of ``source``: ``ECOM_SPARK_MASTER=sc://...``
    or ``spark://...``, ``SPARK_REMOTE``, the source file's ``spark:``) the server is contacted
    once (a TCP connect, at most 3 s) and the Spark Connect client's packages are checked."""
    return {"duckdb": None, "spark": _why_not(*spark_target(source))}


def _why_not(master: str | None, origin: str) -> str | None:
    """Why Spark cannot run with ``master`` (set in ``origin``), or None."""
    missing = _pyspark_missing()
    master = master or ""
    connect = master.lower().startswith("sc://")
    if missing:
        return f"{missing}; install it with: {INSTALL_SPARK}"
    if connect and _connect_missing():
        return _connect_help(master, origin)
    if master and (why := _unreachable(master)):  # else the client retries for minutes
        return _unreachable_help(master, why, origin)
    if _java() is None and not connect:
        return (
            "Java is not found (no `java` on PATH, no JAVA_HOME); install Java 17: "
            "apt-get install -y openjdk-17-jre-headless, or set ECOM_SPARK_MASTER=sc://HOST:PORT "
            "(or spark: {remote: sc://HOST:PORT} in the source file) to use a Spark Connect "
            "server"
        )
    return None


def _connect_help(master: str, origin: str = "") -> str:
    missing = ", ".join(_connect_missing())
    return (
        f"{master} is a Spark Connect address and the Spark Connect client is not complete "
        f'({missing} missing); install it with: pip install "pyspark[connect]==4.3.0" '
        f"(or pyspark-client), or {_unset(origin)} to run Spark locally"
    )


# ---------------------------------------------------------------------- session
def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def spark_session(
    master: str | None = None,
    driver_memory: str | None = None,
    conf: dict | None = None,
    source: Source | None = None,
):
    """A SparkSession set up for the project (or the active one, reconfigured).

    ``master``: None takes :func:`spark_target` (``ECOM_SPARK_MASTER``, else ``SPARK_REMOTE``,
    else the ``spark:`` of ``source``'s file, or of the source last opened with :func:`connect`),
    else ``local[N]`` with N = the cores this process may use; ``sc://host:port`` connects to a
    Spark Connect server.
    The session runs in UTC (``spark.sql.session.timeZone``: INT96 Parquet timestamps are read as
    instants in the session zone), with shuffle partitions sized to the local cores (the default
    200 made the promotion join 40x slower than DuckDB on 2 cores), Arrow transfers, quiet logs
    and ``PYSPARK_PYTHON`` set to this Python (Python workers need the project's packages).
    A driver started here keeps its warehouse and Derby files in :func:`spark_scratch_dir`,
    not in the working directory. ``conf``: further Spark settings (they win over these).

    Raises
    ------
    EcomError
        When pyspark or Java is missing or the session cannot start: one message, no JVM trace.
    """
    extra = dict(conf or {})
    origin = "the master given to spark_session"
    if not master:
        master, origin = spark_target(source)
    reason = _why_not(master, origin)
    if reason:
        raise EcomError(f"the Spark engine is not available: {reason}.")
    remote = master if master and master.lower().startswith("sc://") else None
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    try:
        from pyspark.sql import SparkSession
    except Exception as exc:  # noqa: BLE001 - a broken install fails in many ways
        raise EcomError(
            f"the Spark engine is not available: pyspark cannot be imported ({exc}); "
            f"{INSTALL_SPARK}."
        ) from None
    local = remote is None and (master is None or master.startswith("local"))
    if local:
        master = master or f"local[{_cores()}]"
        m = re.match(r"local\[(\d+)", master)
        parts = int(m.group(1)) if m else _cores()
    builder = SparkSession.builder.appName("ecom-analytics")
    builder = builder.remote(remote) if remote else builder.master(master)
    conf = {
        "spark.sql.session.timeZone": "UTC",
        # DuckDB's semantics: a failed cast or a division by zero is NULL, not an error
        "spark.sql.ansi.enabled": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.pyspark.fallback.enabled": "true",
        # pandas writes nanosecond timestamps, which Spark cannot read as timestamps: read the
        # raw long and convert it in the raw view (SparkEngine._register_raw)
        "spark.sql.legacy.parquet.nanosAsLong": "true",
    }
    if local:
        conf.update(
            {
                "spark.sql.shuffle.partitions": str(max(1, parts)),
                "spark.default.parallelism": str(max(1, parts)),
                "spark.ui.enabled": "false",
                "spark.ui.showConsoleProgress": "false",
                "spark.driver.memory": driver_memory
                or os.environ.get("ECOM_SPARK_DRIVER_MEMORY", "2g"),
                "spark.driver.extraJavaOptions": "-Dlog4j2.level=error",
            }
        )
    if remote is None:  # the driver runs here: its warehouse and Derby files not in the cwd
        scratch = spark_scratch_dir()
        os.makedirs(scratch, exist_ok=True)
        conf["spark.sql.warehouse.dir"] = os.path.join(scratch, "warehouse")
    conf.update(extra)
    if remote is None:
        derby = f"-Dderby.system.home={scratch}"
        java = conf.get("spark.driver.extraJavaOptions", "")
        if "-Dderby.system.home" not in java:
            conf["spark.driver.extraJavaOptions"] = f"{java} {derby}".strip()
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        with _jvm_output_to_log(local):
            spark = builder.getOrCreate()
        for key in ("spark.sql.session.timeZone", "spark.sql.ansi.enabled"):
            spark.conf.set(key, conf[key])  # an active session keeps its old settings otherwise
        if local:
            spark.conf.set("spark.sql.shuffle.partitions", conf["spark.sql.shuffle.partitions"])
            spark.sparkContext.setLogLevel("FATAL")  # errors reach Python as exceptions
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - py4j / PySpark / connect errors
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise EcomError(
            f"cannot start Spark ({remote or master}): {first}{_log_tail(local)}. Check Java 17 "
            f"(`java -version`) "
            f"and the master / Spark Connect address ({origin or 'ECOM_SPARK_MASTER'}); install: "
            f"{INSTALL_SPARK}."
        ) from None
    return spark


def spark_scratch_dir() -> str:
    """Where a driver started here keeps Spark's own files: the SQL warehouse
    (``spark.sql.warehouse.dir``, else ``spark-warehouse/`` in the working directory, which
    Spark makes as soon as a view is registered) and Derby's metastore files (only with Hive
    support): ``ECOM_SPARK_DIR``, else ``<tmp>/ecom-spark-<user id>`` (one per user, as the
    views are temporary it stays empty)."""
    import tempfile

    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return os.environ.get("ECOM_SPARK_DIR") or os.path.join(
        tempfile.gettempdir(), f"ecom-spark-{uid}"
    )


def spark_log_path() -> str:
    """Where the local Spark JVM writes its console output (start-up banner, native-library
    warnings): ``ECOM_SPARK_LOG``, else ``<tmp>/ecom-spark-<pid>.log``."""
    import tempfile

    return os.environ.get("ECOM_SPARK_LOG") or os.path.join(
        tempfile.gettempdir(), f"ecom-spark-{os.getpid()}.log"
    )


@contextlib.contextmanager
def _jvm_output_to_log(local: bool):
    """While a local JVM is launched, point file descriptors 1 and 2 at :func:`spark_log_path`:
    the JVM inherits them for its life, so its console chatter stays out of notebooks and
    terminals. Nothing changes when the session already exists or is remote."""
    from pyspark.sql import SparkSession

    if not local or SparkSession.getActiveSession() is not None:
        yield
        return
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(spark_log_path(), "ab") as log_file:
            os.dup2(log_file.fileno(), 1)
            os.dup2(log_file.fileno(), 2)
            yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def _log_tail(local: bool) -> str:
    """The JVM's last console line (why it did not start), as ``" (JVM: ...)"``, or ""."""
    if not local:
        return ""
    try:
        with open(spark_log_path(), encoding="utf-8", errors="replace") as f:
            lines = [ln.strip() for ln in f if ln.strip()]
    except OSError:
        return ""
    return f" (JVM: {lines[-1][:200]}; log {spark_log_path()})" if lines else ""


# ---------------------------------------------------------------------- SQL translation
def _naive_timestamps():
    from sqlglot import exp

    t = exp.DataType.Type
    return {t.TIMESTAMP, t.TIMESTAMPNTZ, t.TIMESTAMP_NS, t.TIMESTAMP_MS, t.TIMESTAMP_S, t.DATETIME}


def _spark_rewrites(tree):
    """The DuckDB constructs sqlglot passes through to Spark unchanged, rewritten (one place).

    - ``timezone(z, timezone('UTC', x))`` (UTC -> wall clock of z) -> ``from_utc_timestamp``;
      ``timezone('UTC', x)`` -> x (the session is UTC: an instant *is* its UTC wall clock);
      ``timezone(z, x)`` with a naive x (wall clock of z -> instant) -> ``to_utc_timestamp``;
    - ``try_strptime(x, fmt)`` -> ``try_to_timestamp`` with the format translated;
    - ``isinf(x)`` -> ``abs(x) = double('inf')``;
    - decimal literals (``1.0``) -> ``CAST(1.0 AS DOUBLE)``: DuckDB computes with them as
      doubles, Spark as DECIMAL (``AVG(CASE ... 1.0 ELSE 0.0 END)`` rounded to 5-6 places);
    - naive ``TIMESTAMP`` types -> Spark's ``TIMESTAMP`` (not ``TIMESTAMP_NTZ``), the UTC
      wall clock of the session, so timestamps of the views and of queries are one type.
    """
    from sqlglot import exp

    _NAIVE_TIMESTAMPS = _naive_timestamps()

    def is_utc(node) -> bool:
        return isinstance(node, exp.Literal) and node.is_string and node.this.upper() == "UTC"

    def fn(node):
        if isinstance(node, exp.Anonymous):
            name = str(node.this).lower()
            args = node.expressions
            if name == "timezone" and len(args) == 2:
                zone, value = args
                if is_utc(zone):
                    return value
                inner = value
                if (
                    isinstance(inner, exp.Anonymous)
                    and str(inner.this).lower() == "timezone"
                    and len(inner.expressions) == 2
                    and is_utc(inner.expressions[0])
                ):
                    return exp.Anonymous(
                        this="from_utc_timestamp", expressions=[inner.expressions[1], zone]
                    )
                return exp.Anonymous(this="to_utc_timestamp", expressions=[value, zone])
            if name == "try_strptime" and len(args) == 2:
                return exp.StrToTime(this=args[0], format=args[1], safe=True)
        return node

    for _ in range(10):  # to a fixed point: a rewrite may uncover another (nested timezone)
        before = tree.sql(dialect="duckdb")
        tree = tree.transform(fn)
        if tree.sql(dialect="duckdb") == before:
            break

    def once(node):
        if isinstance(node, exp.IsInf):  # Spark has no isinf
            x = node.this
            return exp.paren(
                exp.func("abs", x.copy()).eq(exp.func("double", exp.Literal.string("inf")))
            )
        if isinstance(node, exp.Literal) and not node.is_string:
            if re.fullmatch(r"\d*\.\d*", str(node.this)):
                return exp.Cast(this=node.copy(), to=exp.DataType.build("DOUBLE"))
        if isinstance(node, exp.DataType) and node.this in _NAIVE_TIMESTAMPS:
            return exp.DataType(this=exp.DataType.Type.TIMESTAMPTZ)
        return node

    return tree.transform(once)


def _literal(value) -> str:
    """A SQL literal of a query parameter (floats as DOUBLE: Spark reads ``1.5`` as DECIMAL)."""
    import pandas as pd

    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"CAST({value!r} AS DOUBLE)"
    if isinstance(value, dt.datetime | pd.Timestamp):
        return f"TIMESTAMP '{pd.Timestamp(value).isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise EcomError(f"cannot bind a query parameter of type {type(value).__name__}: {value!r}.")


def bind(sql: str, params) -> str:
    """``sql`` with each ``?`` placeholder (outside quoted text) replaced by the literal of the
    next of ``params``: DuckDB's parameter style, for engines that take none (Spark)."""
    params = list(params)
    parts = re.split(r"('(?:[^']|'')*')", sql)  # odd items: quoted text, left alone
    out, used = [], 0
    for k, part in enumerate(parts):
        if k % 2 == 0:
            pieces = part.split("?")
            for j, piece in enumerate(pieces[:-1]):
                if used >= len(params):
                    raise EcomError(f"the query has more '?' than the {len(params)} parameter(s).")
                pieces[j] = piece + _literal(params[used])
                used += 1
            part = "".join(pieces)
        out.append(part)
    if used != len(params):
        raise EcomError(f"the query has {used} '?' but {len(params)} parameter(s) were given.")
    return "".join(out)


def to_spark_sql(sql: str) -> str:
    """DuckDB-dialect SQL -> Spark SQL (sqlglot, plus :func:`_spark_rewrites`)."""
    import sqlglot

    trees = sqlglot.parse(sql, read="duckdb")
    out = [_spark_rewrites(t).sql(dialect="spark") for t in trees if t is not None]
    return ";\n".join(out)


def _spark_type(duckdb_type: str) -> str:
    """The Spark type that holds what DuckDB reads as ``duckdb_type``."""
    from sqlglot import exp

    t = duckdb_type.upper()
    if t.startswith("TIMESTAMP"):
        return "TIMESTAMP"
    return exp.DataType.build(duckdb_type, dialect="duckdb").sql(dialect="spark")


# ---------------------------------------------------------------------- result types
_DUCK_INTS = {"HUGEINT", "UHUGEINT", "UBIGINT", "BIGINT", "INTEGER", "SMALLINT", "TINYINT"}


def normalise_frame(frame: pd.DataFrame, int_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """One set of result types whichever engine ran the query: integers int64 (float64 when
    they hold NULLs), decimals and float32 float64, dates and timestamps datetime64[ns]
    (naive UTC). ``int_columns``: columns the engine typed as integers (DuckDB's HUGEINT sums
    arrive as float64)."""
    import pandas as pd

    frame = frame.copy()
    for col in frame.columns:
        s = frame[col]
        if col in int_columns and s.dtype.kind == "f" and s.notna().all():
            frame[col] = s.astype("int64")
            continue
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            frame[col] = s.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]")
        elif s.dtype.kind == "M":
            frame[col] = s.astype("datetime64[ns]")
        elif s.dtype.kind == "f":
            frame[col] = s.astype("float64")
        elif isinstance(s.dtype, pd.api.extensions.ExtensionDtype) and s.dtype.kind in "iuf":
            frame[col] = s.astype("float64") if s.isna().any() else s.astype("int64")
        elif s.dtype.kind in "iu":
            frame[col] = s.astype("int64")
        elif s.dtype == object:
            first = s.dropna()
            first = first.iloc[0] if len(first) else None
            if isinstance(first, decimal.Decimal):
                frame[col] = s.astype("float64")
            elif isinstance(first, dt.datetime | dt.date):
                frame[col] = pd.to_datetime(s).astype("datetime64[ns]")
    return frame


class _Result:
    """What ``execute`` returns: ``df()``, ``fetchall()``, ``fetchone()`` like DuckDB's."""

    def __init__(self, frame: pd.DataFrame | None):
        self._frame = frame

    def df(self) -> pd.DataFrame:
        import pandas as pd

        return self._frame if self._frame is not None else pd.DataFrame()

    def fetchall(self) -> list[tuple]:
        if self._frame is None:
            return []
        return [tuple(r) for r in self._frame.itertuples(index=False, name=None)]

    def fetchone(self) -> tuple | None:
        rows = self.fetchall()
        return rows[0] if rows else None


# ---------------------------------------------------------------------- engines
class DuckDBEngine:
    """The embedded default: :meth:`Source.connect` behind the engine interface."""

    name = "duckdb"

    def __init__(self, source: Source, threads: int | None = None, memory_limit: str | None = None):
        self.source = source
        self.con = source.connect(threads=threads, memory_limit=memory_limit)

    def execute(self, sql: str, *args):
        return self.con.execute(sql, *args)

    def query(self, sql: str) -> pd.DataFrame:
        """Run DuckDB SQL; the result with the engine-independent types of
        :func:`normalise_frame`."""
        rel = self.con.sql(sql)
        ints = tuple(c for c, t in zip(rel.columns, rel.types, strict=True) if str(t) in _DUCK_INTS)
        return normalise_frame(rel.df(), ints)

    def create_view(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")

    def close(self) -> None:
        self.con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SparkEngine:
    """The canonical views of a source on Spark; queries in DuckDB SQL, transpiled.

    Parameters
    ----------
    source : the data source (:func:`ecomlib.data.open_source`).
    spark : a SparkSession (default :func:`spark_session`).
    """

    name = "spark"

    def __init__(self, source: Source, spark=None, threads=None, memory_limit=None):
        # threads / memory_limit are DuckDB settings: Spark sizes itself (spark_session)
        self.source = source
        self.spark = spark if spark is not None else spark_session(source=source)
        self._views: list[str] = []
        self._raw_types: dict[str, dict[str, str]] = {}  # _raw_<table> -> DuckDB's file types
        self._register()

    # -- registration: _raw_<table> from the files, then the canonical SELECT of view_sql
    def _register(self) -> None:
        import duckdb

        from ecomlib.data.source import _encode_keys, _raw_sql

        duck = duckdb.connect()  # describes the files (metadata only): the types view_sql expects
        try:
            for name, spec in self.source.tables.items():
                if name == "images":
                    continue
                duck.execute(f"CREATE VIEW _raw_{name} AS {_raw_sql(spec)}")
                types = {r[0]: r[1] for r in duck.execute(f"DESCRIBE _raw_{name}").fetchall()}
                self._raw_types[f"_raw_{name}"] = types
                self._register_raw(name, spec, types)
            encoded = _encode_keys(self, self.source)
            for name in self.source.tables:
                if name != "images":
                    self.create_view(name, self.source.view_sql(self, name, encoded))
        finally:
            duck.close()

    def _register_raw(self, name: str, spec, types: dict[str, str]) -> None:
        from pyspark.sql import functions as F

        files = [str(f) for f in spec.files()]
        lower = spec.path.lower()
        if lower.endswith((".parquet", ".pq")) or spec.path.endswith("*"):
            reader = self.spark.read
            if len(files) > 1:  # union_by_name, as DuckDB reads them (a Spark job: only then)
                reader = reader.option("mergeSchema", "true")
            frame = reader.parquet(*files)
        else:
            frame = self._read_csv(spec, files)
        from pyspark.sql import types as T

        have = {f.name: f.dataType for f in frame.schema.fields}
        cols = []
        for col, typ in types.items():
            target = _spark_type(typ)
            c = F.col(f"`{col}`")
            if target == "TIMESTAMP" and isinstance(have.get(col), T.LongType):
                # nanoseconds since the epoch (spark.sql.legacy.parquet.nanosAsLong)
                c = F.timestamp_micros(F.floor(c / 1000).cast("long"))
            elif typ.upper() == "VARCHAR" or target.upper() == "STRING":
                c = c.cast("string")
            else:
                c = c.cast(target)
            cols.append(c.alias(col))
        frame.select(*cols).createOrReplaceTempView(f"_raw_{name}")
        self._views.append(f"_raw_{name}")

    def _read_csv(self, spec, files: list[str]):
        opts = {"header": "true", "inferSchema": "false", "mode": "PERMISSIVE"}
        read = spec.read
        sep = read.get("delim") or read.get("sep") or read.get("delimiter")
        if sep:
            opts["sep"] = str(sep)
        if read.get("quote"):
            opts["quote"] = str(read["quote"])
        if "header" in read:
            opts["header"] = str(bool(read["header"])).lower()
        if read.get("decimal_separator") not in (None, "."):
            raise EcomError(
                f"tables.{spec.name}: read.decimal_separator is not supported on the Spark "
                "engine yet; convert the file to Parquet or use the DuckDB engine."
            )
        return self.spark.read.options(**opts).csv(files)

    # -- queries
    def sql(self, sql: str):
        """A Spark DataFrame for DuckDB-dialect ``sql``."""
        return self.spark.sql(to_spark_sql(sql))

    def query(self, sql: str) -> pd.DataFrame:
        """Run DuckDB-dialect SQL on Spark; a pandas frame with :func:`normalise_frame` types."""
        from pyspark.sql import types as T

        frame = self.sql(sql)
        ints = tuple(
            f.name
            for f in frame.schema.fields
            if isinstance(f.dataType, T.LongType | T.IntegerType | T.ShortType | T.ByteType)
            or (isinstance(f.dataType, T.DecimalType) and f.dataType.scale == 0)
        )
        return normalise_frame(frame.toPandas(), ints)

    def execute(self, sql: str, *args) -> _Result:
        """DuckDB-connection look-alike: ``execute(sql[, params]).df() / fetchall() /
        fetchone()``; ``?`` parameters are bound as literals (:func:`bind`).

        ``SET`` statements (DuckDB threads, memory limit) are ignored, ``information_schema.
        tables`` lists the session's views, ``DESCRIBE`` gives column names first (for the
        ``_raw_<table>`` views of the files: the DuckDB types the canonical SQL is written
        against, so :func:`ecomlib.data.check_source` runs unchanged)."""
        text = (bind(sql, args[0]) if args else sql).strip().rstrip(";")
        if re.match(r"(?is)^SET\s", text):
            log.debug("spark engine: ignoring %r", text)
            return _Result(None)
        if re.search(r"(?i)\binformation_schema\.tables\b", text):
            import pandas as pd

            names = [t.name for t in self.spark.catalog.listTables()]
            return _Result(pd.DataFrame({"table_name": names}))
        m = re.match(
            r"(?is)^CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP\w*\s+)?(VIEW|TABLE)\s+(\w+)\s+AS\s+(.*)$",
            text,
        )
        if m:
            self.create_view(m.group(2), m.group(3), cache=m.group(1).upper() == "TABLE")
            return _Result(None)
        m = re.match(r"(?is)^DESCRIBE\s+(\w+)$", text)
        if m and m.group(1) in self._raw_types:  # the files' columns, typed as DuckDB reads them
            import pandas as pd

            types = self._raw_types[m.group(1)]
            return _Result(
                pd.DataFrame({"column_name": list(types), "column_type": list(types.values())})
            )
        if re.match(r"(?is)^DESCRIBE\s", text):
            return _Result(self.spark.sql(text).toPandas())
        return _Result(self.query(text))

    def create_view(self, name: str, sql: str, cache: bool = False) -> None:
        """A temporary view ``name`` of DuckDB-dialect ``sql`` (``cache``: materialised)."""
        frame = self.sql(sql)
        if cache:
            frame = frame.cache()
        frame.createOrReplaceTempView(name)
        self._views.append(name)

    def close(self) -> None:
        """Drop this engine's views (the session stays: it is shared and costly to start)."""
        for name in self._views:
            self.spark.catalog.dropTempView(name)
        self._views = []

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------------- the user surface
@contextlib.contextmanager
def quiet(con):
    """Within the block, a DuckDB connection shows no progress bar (a slow query on a busy
    machine would print its widget into notebooks); the setting is restored after. Other
    engines (:class:`SparkEngine`) have no such bar and are left as they are."""
    if getattr(con, "name", None) == "spark":
        yield con
        return
    bar = con.execute("SELECT current_setting('enable_progress_bar')").fetchall()[0][0]
    con.execute("SET enable_progress_bar = false")
    try:
        yield con
    finally:
        con.execute(f"SET enable_progress_bar = {'true' if bar else 'false'}")


def quiet_query(con, sql: str, params=None) -> pd.DataFrame:
    """``sql`` (with DuckDB ``params``) as a DataFrame, without a progress bar (:func:`quiet`)."""
    with quiet(con):
        return con.execute(sql, params).df() if params is not None else con.execute(sql).df()


def default_engine(source: Source | None = None) -> str:
    """``ECOM_ENGINE`` if set (``ecom run --engine`` sets it), else the source file's
    ``engine:``, else ``duckdb``."""
    chosen = os.environ.get("ECOM_ENGINE") or (source.engine if source is not None else "")
    return (chosen or "duckdb").strip().lower()


def connect(source: Source | str | None = None, engine: str | None = None, **options):
    """The canonical views of ``source`` on ``engine`` (default ``ECOM_ENGINE`` or duckdb).

    Parameters
    ----------
    source : a :class:`Source`, or what :func:`ecomlib.data.open_source` takes ("" = default).
    engine : "duckdb" or "spark".
    options : DuckDB: ``threads``, ``memory_limit``; Spark: ``spark`` (a session).

    Returns
    -------
    An engine with ``query(sql) -> DataFrame`` (DuckDB-dialect SQL on either engine) and a
    DuckDB-like ``execute(sql)``.
    """
    from ecomlib.data.source import Source, open_source

    global _LAST_SOURCE
    src = source if isinstance(source, Source) else open_source(source)
    _LAST_SOURCE = (dict(getattr(src, "spark", None) or {}), str(src.path or "the source file"))
    name = (engine or default_engine(src)).strip().lower()
    if name == "duckdb":
        return DuckDBEngine(src, **options)
    if name == "spark":
        return SparkEngine(src, **options)
    raise EcomError(f"unknown engine {name!r}; use one of {', '.join(ENGINES)} (ECOM_ENGINE).")
