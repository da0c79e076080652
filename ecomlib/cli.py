"""The ``ecom`` command line: run reports, manage data, validate files.

Expected problems (bad input, missing data, unknown parameters, failing notebooks) print one
readable message on stderr and exit with status 1; no traceback.
"""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from ecomlib.errors import EcomError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="ecom-analytics: e-commerce notebooks, reports and data.",
)
data_app = typer.Typer(no_args_is_help=True, help="List, fetch and check datasets.")
app.add_typer(data_app, name="data")


def _friendly(func):
    """Turn EcomError into a one-line message and exit status 1; Ctrl-C or SIGTERM into
    "interrupted" and exit status 130."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from ecomlib.report.runner import RunInterrupted

        try:
            return func(*args, **kwargs)
        except RunInterrupted as exc:
            typer.secho(f"interrupted: {exc}", fg=typer.colors.YELLOW, err=True)
            raise typer.Exit(130) from None
        except KeyboardInterrupt:
            typer.secho("interrupted", fg=typer.colors.YELLOW, err=True)
            raise typer.Exit(130) from None
        except EcomError as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from None

    return wrapper


def _sigterm_as_interrupt(signum, frame) -> None:  # pragma: no cover - exercised by a test
    raise KeyboardInterrupt


def _parse_overrides(pairs: list[str]) -> dict:
    from ecomlib.report.runner import coerce_value

    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise EcomError(f"-p expects KEY VALUE (or KEY=VALUE), got {pair!r}")
        key, value = pair.split("=", 1)
        out[key.strip()] = coerce_value(value)
    return out


def _join_param_pairs(argv: list[str]) -> list[str]:
    """Accept ``-p KEY VALUE`` (papermill style) by rewriting it to ``-p KEY=VALUE``."""
    out, i = [], 0
    while i < len(argv):
        tok = argv[i]
        if (
            tok in ("-p", "--param")
            and i + 2 < len(argv)
            and "=" not in argv[i + 1]
            and not argv[i + 2].startswith("--")  # "-p EPOCHS --out x": the value is missing
            and argv[i + 2] not in ("-p", "--param")
        ):
            out += [tok, f"{argv[i + 1]}={argv[i + 2]}"]
            i += 3
            continue
        out.append(tok)
        i += 1
    return out


@app.command("run")
@_friendly
def run_cmd(
    notebooks: Annotated[
        list[str] | None,
        typer.Argument(help="Notebooks (01, 01_eda, or a path); all when omitted."),
    ] = None,
    profile: Annotated[
        str,
        typer.Option(help="Parameter profile: default, smoke, full, gpu, or a YAML file of yours."),
    ] = "full",
    param: Annotated[
        list[str] | None,
        typer.Option(
            "-p", "--param", help="Parameter override, repeatable: -p EPOCHS 3 (or -p EPOCHS=3)."
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Reports folder (default reports/).")] = None,
    run_name: Annotated[
        str | None, typer.Option(help="Name of the run folder (default: timestamp-profile).")
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            "--data", help="Data source: a YAML source file or a bundled name (default: bundled)."
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(help="Query engine: duckdb (default) or spark (also ECOM_ENGINE)."),
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option("--no-cache", help="Recompute every cached step (also -p CACHE False)."),
    ] = False,
    jobs: Annotated[int, typer.Option(help="Notebooks run at once, each in its own kernel.")] = 1,
    resume: Annotated[
        str | None,
        typer.Option(
            help="A failed-/interrupted- run folder: keep its finished notebooks, run the rest."
        ),
    ] = None,
) -> None:
    """Execute notebooks with papermill and write HTML reports plus reports/index.html."""
    from ecomlib.report.runner import run

    overrides = _parse_overrides(param or [])
    if resume and (notebooks or param or data or run_name):
        raise EcomError(
            "--resume re-runs a run with its own notebooks, parameters and data; "
            "give it alone (with --out, --engine, --jobs or --no-cache)."
        )

    def skipped(name: str, reason: str) -> None:
        typer.echo(f"{name:28s} skipped: {reason}")

    def finished(r) -> None:
        peak = f"{r.peak_mb / 1024:6.1f} GB peak" if r.peak_mb else ""
        typer.echo(f"{r.name:28s} {r.status:6s} {r.seconds:7.1f} s {peak}".rstrip())

    final, _ = run(
        notebooks,
        profile=profile,
        overrides=overrides,
        out=out,
        run_name=run_name,
        data=data,
        on_skip=skipped,
        on_result=finished,
        progress=sys.stderr.isatty(),  # a log file gets one line per notebook, not bars
        engine=engine,
        cache=not no_cache,
        jobs=jobs,
        resume=resume,
    )
    typer.echo(f"report: {final}  (index: {final.parent / 'index.html'})")


@app.command("params")
@_friendly
def params_cmd(
    notebook: Annotated[str, typer.Argument(help="Notebook: 01, 01_eda or a path.")],
) -> None:
    """List a notebook's parameters: default, value in each profile, allowed values, help."""
    from ecomlib.report.params import table
    from ecomlib.report.runner import find_notebook

    path = find_notebook(notebook)
    rows = table(path)
    profiles = (
        [k for k in rows[0] if k not in ("name", "default", "allowed", "help")] if rows else []
    )
    typer.echo(f"{path.stem}: set with -p NAME VALUE (ecom run) or in the parameters cell.\n")
    for r in rows:
        typer.echo(f"{r['name']} = {r['default']!r}" + (f"    # {r['help']}" if r["help"] else ""))
        extra = [f"{p}: {r[p]!r}" for p in profiles if r[p] != ""]
        if r["allowed"]:
            extra.insert(0, f"allowed: {r['allowed']}")
        if extra:
            typer.echo("    " + "; ".join(extra))


@app.command("refresh")
@_friendly
def refresh_cmd(
    notebooks: Annotated[
        list[str] | None, typer.Argument(help="Notebooks to re-execute in place.")
    ] = None,
) -> None:
    """Re-execute notebooks at their default parameters and save them with outputs."""
    from ecomlib.report.runner import find_notebook, list_notebooks, refresh_in_place

    paths = [find_notebook(n) for n in notebooks] if notebooks else list_notebooks()
    for path in paths:
        result = refresh_in_place(path)
        typer.echo(f"{path.name}: {result.seconds:.1f} s")


@data_app.command("list")
@_friendly
def data_list() -> None:
    """Show the catalog of embedded datasets and their status."""
    from ecomlib.data.catalog import CATALOG

    for ds in CATALOG.values():
        try:
            status, where = ds.status(), ds.location()
        except EcomError as exc:
            status, where = "missing", str(exc)
        typer.echo(f"{ds.name:16s} {status:8s} {ds.rows}")
        typer.echo(f"  {ds.title}. {ds.description}")
        typer.echo(f"  source: {ds.source}; licence: {ds.licence}")
        typer.echo(f"  path: {where}\n")


@data_app.command("fetch")
@_friendly
def data_fetch(
    names: Annotated[
        list[str] | None, typer.Argument(help="Datasets to fetch; all when omitted.")
    ] = None,
) -> None:
    """Materialise the embedded datasets and verify their checksums (idempotent)."""
    from ecomlib.data.fetch import fetch

    for name, status in fetch(names or None).items():
        typer.echo(f"{name:16s} {status}")


@data_app.command("check")
@_friendly
def data_check(
    path: Annotated[
        Path | None,
        typer.Argument(help="A single CSV or Parquet file to validate (with --schema)."),
    ] = None,
    schema: Annotated[
        str | None,
        typer.Option(help="Schema of PATH: transactions, products, series, interactions, reviews."),
    ] = None,
    column: Annotated[
        list[str] | None, typer.Option("--map", help="FILE_COLUMN=CANONICAL (repeatable).")
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            "--data", help="A data source (YAML file or bundled name): check every table."
        ),
    ] = None,
    freq: Annotated[
        str | None,
        typer.Option(help="series: D, W, M or Q (default: inferred, one for all series)."),
    ] = None,
    horizon: Annotated[
        int, typer.Option(help="series: the forecast horizon notebook 02 will use.")
    ] = 14,
    windows: Annotated[
        int, typer.Option(help="series: the backtest windows notebook 02 will use.")
    ] = 4,
) -> None:
    """Validate a data source (every table and the links between them), or one file.

    A series file gets the checks notebook 02 applies to SERIES_FILE (sorted, no gaps, one
    frequency, history long enough for --horizon and --windows); ``ecom data fix`` repairs
    order and gaps."""
    if data is not None or path is None:
        from ecomlib.data.checks import check_source
        from ecomlib.data.source import open_source

        if path is not None:
            raise EcomError("give either --data SOURCE or a file with --schema, not both.")
        report = check_source(open_source(data))
        typer.echo(report.text())
        if not report.ok:
            raise typer.Exit(1)
        return
    if not schema:
        raise EcomError(f"--schema is needed to check the single file {path}.")
    from ecomlib.data.schemas import read_table

    mapping = {}
    for item in column or []:
        if "=" not in item:
            raise EcomError(f"--map expects FILE_COLUMN=CANONICAL, got {item!r}")
        src, dst = item.split("=", 1)
        mapping[src] = dst
    if schema == "series":
        from ecomlib.forecast import backtest_min_length, read_series

        frame = read_series(
            path,
            mapping or None,
            freq=freq,
            h=horizon,
            min_length=backtest_min_length(horizon, windows),
        )
        typer.echo(
            f"{path}: OK, {frame['unique_id'].nunique():,} series, {len(frame):,} rows "
            f"({frame.attrs.get('freq')}), ready for notebook 02 with HORIZON {horizon} and "
            f"N_WINDOWS {windows}."
        )
        return
    frame = read_table(path, schema, mapping or None)
    typer.echo(f"{path}: OK, {len(frame):,} rows match the {schema!r} schema.")


def _gapped_freq(frame) -> str | None:
    """D, W, M or Q from the most common step between a series' dates (gaps allowed)."""
    steps = frame.groupby("unique_id")["ds"].diff().dt.days.dropna()
    if steps.empty:
        return None
    step = int(steps.mode().iloc[0])
    return {1: "D", 7: "W"}.get(step) or (
        "M" if 28 <= step <= 31 else "Q" if 89 <= step <= 92 else None
    )


@data_app.command("fix")
@_friendly
def data_fix(
    path: Annotated[Path, typer.Argument(help="A long-format series file (unique_id, ds, y).")],
    out: Annotated[Path, typer.Option(help="Where to write the repaired file (.csv/.parquet).")],
    column: Annotated[
        list[str] | None, typer.Option("--map", help="FILE_COLUMN=CANONICAL (repeatable).")
    ] = None,
    freq: Annotated[
        str | None, typer.Option(help="D, W, M or Q (default: inferred per file).")
    ] = None,
    fill: Annotated[float, typer.Option(help="Value of the inserted missing periods.")] = 0.0,
) -> None:
    """Sort a series file by unique_id, ds and insert its missing periods (with --fill),
    then write it to --out; the input is never modified."""
    import os

    import pandas as pd

    from ecomlib.data.schemas import apply_column_map, read_file
    from ecomlib.forecast import fill_gaps, validate_series

    mapping = dict(item.split("=", 1) for item in column or [] if "=" in item)
    if out.resolve() == path.resolve():
        raise EcomError(f"--out {out} is the input file; write the repaired copy elsewhere.")
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise EcomError(f"--out {out}: use a .csv or .parquet file name.")
    frame = apply_column_map(read_file(path), mapping or None, source=str(path))
    missing = {"unique_id", "ds", "y"} - set(frame.columns)
    if missing:
        raise EcomError(
            f"{path}: no column(s) {', '.join(sorted(missing))}; map yours with --map FILE=CANONICAL."
        )
    frame["ds"] = pd.to_datetime(frame["ds"], errors="raise")
    frame = frame.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    f = freq or _gapped_freq(frame)
    if f is None:
        raise EcomError(f"{path}: cannot infer the frequency; give --freq D, W, M or Q.")
    before = len(frame)
    frame = fill_gaps(frame, freq=f, value=fill)
    fixed = validate_series(frame, freq=f, source=str(path))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        if out.suffix.lower() == ".csv":
            fixed.to_csv(tmp, index=False)
        else:
            fixed.to_parquet(tmp, index=False)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    typer.echo(
        f"{out}: {fixed['unique_id'].nunique():,} series sorted, {len(fixed) - before:,} "
        f"missing {f} periods inserted with {fill:g}; check it with "
        f"`ecom data check {out} --schema series`."
    )


@data_app.command("init")
@_friendly
def data_init(
    path: Annotated[
        Path, typer.Argument(help="Where to write the source file (e.g. my_shop.yaml).")
    ],
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented data-source template to fill in with your paths and column names."""
    from ecomlib.data.source import write_template

    write_template(path, force=force)
    typer.echo(
        f"wrote {path}: fill in paths and column names, then `ecom data check --data {path}` "
        f"and `ecom run --data {path}`."
    )


@data_app.command("sources")
@_friendly
def data_sources() -> None:
    """List the bundled data sources and the tables each one has."""
    from ecomlib.data.source import bundled_sources, open_source

    for name in bundled_sources():
        try:
            src = open_source(name)
            typer.echo(f"{name:16s} {', '.join(src.tables)}")
            typer.echo(f"  {src.title}")
        except EcomError as exc:
            typer.echo(f"{name:16s} unavailable: {exc}")


cache_app = typer.Typer(no_args_is_help=True, help="The cache of fitted models and other steps.")
app.add_typer(cache_app, name="cache")


@cache_app.command("list")
@_friendly
def cache_list() -> None:
    """List the cached step results: step, size, when computed, seconds a hit saves."""
    from ecomlib import cache

    rows = cache.entries()
    typer.echo(
        f"cache: {cache.location()} (limit {cache.limit_bytes() / 1e6:,.0f} MB"
        f"{'' if cache.enabled() else ', disabled by ECOM_CACHE'})"
    )
    for r in rows:
        typer.echo(f"{r['step']:28s} {r['mb']:9.1f} MB  {r['computed']}  {r['seconds']:7.1f} s")
    total = sum(r["mb"] for r in rows)
    typer.echo(f"{len(rows)} entries, {total:,.1f} MB")


@cache_app.command("clear")
@_friendly
def cache_clear() -> None:
    """Remove every cached step result (the next run recomputes them)."""
    from ecomlib import cache

    typer.echo(f"removed {cache.clear()} cached results from {cache.location()}")


@app.command("forecast")
@_friendly
def forecast_cmd(
    data: Annotated[
        str | None, typer.Option("--data", help="Data source: a YAML file or a bundled name.")
    ] = None,
    level: Annotated[
        str, typer.Option(help="total, department, category or a products column.")
    ] = "category",
    by: Annotated[
        str | None,
        typer.Option(help="A transactions column that splits each series, e.g. store_id."),
    ] = None,
    freq: Annotated[str, typer.Option(help="D, W, M or Q.")] = "D",
    horizon: Annotated[int, typer.Option(help="Periods to forecast.")] = 14,
    models: Annotated[
        str, typer.Option(help="statsforecast models, comma-separated.")
    ] = "SeasonalNaive,AutoETS",
    series: Annotated[
        int, typer.Option(help="Keep the N series with the highest sales (0: every series).")
    ] = 0,
    engine: Annotated[
        str | None, typer.Option(help="duckdb or spark (default: ECOM_ENGINE, else duckdb).")
    ] = None,
    out: Annotated[
        Path, typer.Option(help="CSV to write (unique_id, ds, one column a model).")
    ] = Path("forecast.csv"),
) -> None:
    """Forecast every series of a data source (each product group, or group x store with
    --by store_id) with statsforecast's models, on Spark with --engine spark, into a CSV."""
    import os
    import time

    from ecomlib.data.engines import ENGINES
    from ecomlib.forecast import forecast_source
    from ecomlib.forecast.report import export_forecast

    if engine is not None and engine.strip().lower() not in ENGINES:
        raise EcomError(f"--engine {engine!r}: use one of {', '.join(ENGINES)}.")
    if horizon < 1 or series < 0:
        raise EcomError(f"--horizon must be >= 1 and --series >= 0, got {horizon} and {series}.")
    target = out.expanduser().resolve()
    if not target.parent.is_dir():
        raise EcomError(f"--out {out}: folder {target.parent} does not exist; create it first.")
    if not os.access(target.parent, os.W_OK):
        raise EcomError(f"--out {out}: folder {target.parent} is not writable.")
    names = [m.strip() for m in models.split(",") if m.strip()]
    t0 = time.perf_counter()
    frame = forecast_source(
        data,
        level=level,
        by=by,
        freq=freq,
        h=horizon,
        models=names,
        n_series=series or None,
        engine=engine,
    )
    path = export_forecast(frame, target)
    typer.echo(
        f"{frame.attrs['n_series']:,} series x {horizon} periods ({', '.join(names)}) on "
        f"{frame.attrs['engine']} in {time.perf_counter() - t0:.1f} s -> {path}"
    )


@app.command("engines")
@_friendly
def engines_cmd(
    data: Annotated[
        str | None,
        typer.Option("--data", help="A source file: its engine: and spark: settings count too."),
    ] = None,
) -> None:
    """List the query engines (duckdb, spark), whether each can run here and, if not, why.

    Exits 1 when the engine a run would use (``ECOM_ENGINE``, else the source file's
    ``engine:``, default duckdb) is unavailable."""
    from ecomlib.data import open_source
    from ecomlib.data.engines import ENGINES, available_engines, default_engine, spark_target

    source = open_source(data) if data else None
    default = default_engine(source)
    if default not in ENGINES:
        raise EcomError(f"ECOM_ENGINE={default!r}: use one of {', '.join(ENGINES)}.")
    found = available_engines(source)
    for name, reason in found.items():
        mark = " (default)" if name == default else ""
        typer.echo(f"{name:8s} {'available' if reason is None else 'unavailable'}{mark}")
        if reason:
            typer.echo(f"  {reason}")
    master, origin = spark_target(source)
    where = f"{master} (from {origin})" if master else "local[*]"
    typer.echo(f"choose with ECOM_ENGINE=duckdb|spark; Spark master: {where}")
    if found[default]:
        raise typer.Exit(1)


def main() -> None:  # pragma: no cover
    import signal

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    app(args=_join_param_pairs(sys.argv[1:]), prog_name="ecom")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
