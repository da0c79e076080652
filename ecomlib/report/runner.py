"""The papermill runner behind ``ecom run`` (and the notebook tests).

A run executes notebooks with the kernel ``python3`` and cwd ``notebooks/``, each with the
parameters of a profile (``notebooks/profiles/<profile>.yaml``, one section per notebook)
plus ``-p KEY VALUE`` overrides. It writes into a hidden temporary directory and renames it
into ``reports/<run>/`` only when complete, so earlier reports are never damaged. Per
notebook it keeps the executed ``.ipynb``, an HTML page without code cells, and the recorded
metrics; ``reports/index.html`` lists every run.
"""

from __future__ import annotations

import ast
import datetime as dt
import logging
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ecomlib import config
from ecomlib.errors import EcomError, ParameterError
from ecomlib.report.metrics import read_metrics_file, write_json_atomic

log = logging.getLogger(__name__)

PROFILES = ("default", "smoke", "full", "gpu")


def notebooks_dir() -> Path:
    return config.project_root() / "notebooks"


def list_notebooks() -> list[Path]:
    """The numbered notebooks, in order."""
    return sorted(notebooks_dir().glob("[0-9][0-9]_*.ipynb"))


def find_notebook(name: str) -> Path:
    """Resolve ``01``, ``01_eda``, ``01_eda.ipynb`` or a path to a notebook file."""
    path = Path(name)
    if path.suffix == ".ipynb" and path.is_file():
        return path.resolve()
    stem = path.name.removesuffix(".ipynb")
    matches = [p for p in list_notebooks() if p.stem == stem or p.stem.split("_")[0] == stem]
    if len(matches) != 1:
        valid = ", ".join(p.stem for p in list_notebooks())
        raise ParameterError(f"Unknown notebook {name!r}. Notebooks: {valid}.")
    return matches[0]


def load_profile(profile: str, notebook: str) -> dict[str, Any]:
    """Parameters of ``profile`` for one notebook (its stem). ``default`` is empty."""
    if profile == "default":
        return {}
    path = notebooks_dir() / "profiles" / f"{profile}.yaml"
    if not path.is_file():
        avail = sorted(p.stem for p in (notebooks_dir() / "profiles").glob("*.yaml"))
        raise ParameterError(f"Unknown profile {profile!r}. Profiles: default, {', '.join(avail)}.")
    data = yaml.safe_load(path.read_text()) or {}
    return dict(data.get(notebook) or {})


def notebook_parameters(path: Path) -> dict[str, Any]:
    """Names and default values of the notebook's ``parameters`` cell."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            params = {}
            for node in ast.parse(cell.source).body:
                if isinstance(node, (ast.Assign, ast.AnnAssign)):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for t in targets:
                        if isinstance(t, ast.Name):
                            try:
                                params[t.id] = ast.literal_eval(node.value)
                            except ValueError:
                                params[t.id] = ast.unparse(node.value)
            return params
    raise EcomError(f"{path.name} has no cell tagged 'parameters'.")


def notebook_requirements(path: Path) -> dict[str, list[str]]:
    """Tables (and their columns) a notebook needs from its data source, declared in the
    notebook's metadata as ``{"ecom": {"requires": {"transactions": ["household_id"]}}}``."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    req = nb.metadata.get("ecom", {}).get("requires", {})
    return {str(t): list(cols or []) for t, cols in req.items()}


def missing_requirement(path: Path, source) -> str | None:
    """One sentence naming what ``source`` lacks for the notebook, or None when it can run."""
    for table, columns in notebook_requirements(path).items():
        if not source.has(table):
            return f"data source {source.name!r} has no {table!r} table"
        absent = [c for c in columns if not source.has_column(table, c)]
        if absent:
            return f"table {table!r} of {source.name!r} has no {', '.join(absent)} column"
    return None


def coerce_value(text: str) -> Any:
    """``-p KEY VALUE`` values: Python/YAML literals when they parse, else the string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = yaml.safe_load(text)
        return value if not isinstance(value, (dict, type(None))) or text == "null" else text


def check_parameters(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    """Check parameter names and types against the notebook's ``parameters`` cell.

    Returns the parameters to run with. Unknown names are refused with the list of valid ones;
    a value of the wrong type is refused with the expected type and the default (``EPOCHS=abc``
    would otherwise fail deep inside the notebook). Lossless conversions are made: an integral
    float for an integer (``3.0`` -> ``3``), an integer for a float, a number or date for text
    (``-p START=2017-01-01`` arrives as a date), and text or a tuple for a list
    (``-p MODELS=AutoETS,LightGBM`` -> ``["AutoETS", "LightGBM"]``). Parameters whose default is
    ``None`` or not a literal accept any value.
    """
    valid = notebook_parameters(path)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ParameterError(
            f"{path.stem}: unknown parameter(s) {', '.join(unknown)}. "
            f"Valid parameters: {', '.join(valid)}."
        )
    out, problems = {}, []
    for key, value in params.items():
        try:
            out[key] = _conform(value, valid[key])
        except TypeError as exc:
            problems.append(f"{key} expects {exc} (default {valid[key]!r}), got {value!r}")
    if problems:
        raise ParameterError(f"{path.stem}: " + "; ".join(problems) + ".")
    return out


def _conform(value: Any, default: Any) -> Any:
    """``value`` converted to the type of ``default``; TypeError names the expected type."""
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise TypeError("True or False")
    if isinstance(default, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise TypeError("an integer")
    if isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise TypeError("a number")
    if isinstance(default, str):
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float, dt.date)) and not isinstance(value, bool):
            return str(value)  # -p START=2017-01-01 or -p DEVICE=0 arrive parsed
        raise TypeError("text")
    if isinstance(default, list):
        if isinstance(value, (list, tuple)):
            return list(value)
        if isinstance(value, str):
            return [coerce_value(v.strip()) for v in value.split(",") if v.strip()]
        raise TypeError("a list (e.g. -p NAME=a,b or -p NAME='[1, 2]')")
    if isinstance(default, dict):
        if isinstance(value, dict):
            return value
        raise TypeError("a mapping (e.g. -p NAME='{\"a\": [1, 2]}')")
    return value


@dataclass
class NotebookResult:
    """Outcome of one notebook in a run."""

    name: str
    status: str
    seconds: float | None  # None when the notebook failed or was skipped
    parameters: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    headline: list[str] = field(default_factory=list)
    peak_mb: float | None = None  # peak resident memory of the kernel process (Linux)


class NotebookFailed(EcomError):
    """A notebook raised; the message names notebook, cell and exception."""


def _describe_failure(executed: Path, exc: Exception) -> str:
    import nbformat

    cell_no, ename, evalue = "?", type(exc).__name__, str(exc).strip().splitlines()[-1:] or [""]
    try:
        nb = nbformat.read(executed, as_version=4)
        code_cells = [c for c in nb.cells if c.cell_type == "code"]
        for i, cell in enumerate(code_cells, start=1):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    cell_no, ename, evalue = i, out["ename"], [out["evalue"]]
                    first = cell.source.strip().splitlines()[:1]
                    return (
                        f"{executed.stem}: code cell {cell_no} ({first[0][:60] if first else ''}"
                        f"...) raised {ename}: {evalue[0]}"
                    )
    except Exception:  # pragma: no cover - best effort
        pass
    return f"{executed.stem}: cell {cell_no} raised {ename}: {evalue[0]}"


def process_peak_mb(pid: int) -> float | None:
    """Peak resident memory (``VmHWM``) of a running process in MB, read from ``/proc``;
    None where that is not available (not Linux, process gone)."""
    try:
        with open(f"/proc/{int(pid)}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        return None
    return None


def _local_kernel_manager():
    """A new kernel manager class for one notebook run. Its ``peak_mb`` (a class attribute,
    so the caller can read it after papermill has dropped the manager) is the kernel's peak
    resident memory, read just before the kernel is shut down."""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.paths import jupyter_runtime_dir
    from jupyter_core.utils import ensure_dir_exists
    from traitlets import default

    class MeasuredKernelManager(AsyncKernelManager):
        peak_mb: float | None = None

        async def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
            pid = getattr(self.provisioner, "pid", None)
            peak = process_peak_mb(pid) if pid else None
            if peak is not None:
                type(self).peak_mb = max(type(self).peak_mb or 0.0, peak)
            await super().shutdown_kernel(now=now, restart=restart)

    runtime = jupyter_runtime_dir()
    # socket paths are "<runtime dir>/kernel-<uuid>-ipc-<n>"; Unix limits them to ~107 bytes
    if len(os.fsencode(runtime)) + len("/kernel-") + 36 + len("-ipc-99999") > 100:
        return MeasuredKernelManager

    class LocalKernelManager(MeasuredKernelManager):
        """A kernel manager whose kernel talks over local IPC sockets (files in the Jupyter
        runtime directory, readable by this user only) instead of TCP: nothing listens on a
        port while a report runs, and ipykernel has no reason to warn about plain-text TCP."""

        transport = "ipc"

        @default("ip")
        def _ip_default(self) -> str:
            # Every kernel gets its own socket paths. jupyter_client's default, "kernel-ipc"
            # relative to the working directory, is shared by all kernels started there: two
            # started at once (pytest-xdist workers, parallel runs) could bind the same sockets
            # and read each other's messages ("Invalid Signature", "Kernel didn't respond").
            ensure_dir_exists(runtime, mode=0o700)
            return os.path.join(runtime, f"kernel-{uuid.uuid4()}-ipc")

    return LocalKernelManager


def execute_notebook(
    path: Path,
    out_dir: Path,
    parameters: dict[str, Any] | None = None,
    progress: bool = True,
    timeout: int | None = None,
) -> NotebookResult:
    """Execute one notebook with papermill into ``out_dir`` (ipynb, html, metrics).

    Raises :class:`NotebookFailed` (after writing the partial notebook) when a cell raises.
    """
    import papermill as pm

    parameters = check_parameters(path, dict(parameters or {}))
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / path.name
    metrics_file = out_dir / f"{path.stem}.metrics.json"
    env_backup = {
        k: os.environ.get(k) for k in ("ECOM_METRICS_FILE", "ECOM_PROGRESS", "MPLBACKEND")
    }
    os.environ["ECOM_METRICS_FILE"] = str(metrics_file)
    os.environ["ECOM_PROGRESS"] = "0"
    # A non-interactive MPLBACKEND (e.g. Agg from a test runner) would stop the kernel from
    # selecting the inline backend, and the report would have no figures.
    os.environ.pop("MPLBACKEND", None)
    t0 = time.perf_counter()
    error = None
    manager = _local_kernel_manager()
    try:
        pm.execute_notebook(
            str(path),
            str(executed),
            parameters=parameters,
            kernel_name="python3",
            cwd=str(path.parent),
            progress_bar=progress,
            execution_timeout=timeout,
            log_output=False,
            request_save_on_cell_execute=False,
            kernel_manager_class=manager,
        )
    except Exception as exc:  # papermill raises PapermillExecutionError and others
        error = _describe_failure(executed, exc) if executed.exists() else str(exc)
    finally:
        for k, v in env_backup.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    seconds = time.perf_counter() - t0
    metrics, headline = read_metrics_file(metrics_file) if metrics_file.exists() else ({}, [])
    result = NotebookResult(
        path.stem,
        "failed" if error else "ok",
        seconds,
        parameters,
        metrics,
        error,
        headline,
        manager.peak_mb,
    )
    if executed.exists():
        export_html(executed, out_dir / f"{path.stem}.html")
    if error:
        raise NotebookFailed(error)
    return result


def export_html(executed: Path, target: Path) -> None:
    """HTML without code cells (``nbconvert --no-input``), images embedded, each figure with
    the alternative text recorded by :func:`ecomlib.plots.set_style` (template ``ecom_report``,
    the JupyterLab one plus ``alt``)."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="ecom_report",
        extra_template_basedirs=[str(Path(__file__).parent / "templates")],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    resources = {"metadata": {"name": executed.stem}}
    body, _ = exporter.from_notebook_node(
        nbformat.read(executed, as_version=4), resources=resources
    )
    target.write_text(body, encoding="utf-8")


def run(
    notebooks: list[str] | None = None,
    profile: str = "full",
    overrides: dict[str, Any] | None = None,
    out: Path | None = None,
    run_name: str | None = None,
    progress: bool = True,
    data: str | Path | None = None,
    on_skip=None,
) -> tuple[Path, list[NotebookResult]]:
    """Execute notebooks into a new report directory; return its path and the results.

    ``data`` names the data source (a bundled name or a YAML path; default: the bundled one).
    It is checked (:func:`ecomlib.data.checks.require_ok`) before anything runs and passed to
    each notebook as ``DATA``; a notebook whose tables the source lacks is skipped, with a
    ``skipped`` result whose ``error`` says which table, reported through ``on_skip(name,
    reason)`` when given. The directory appears (atomically renamed) only when every notebook
    succeeded. When one fails, the partial run is kept under ``<out>/failed-<run>/`` for
    debugging, the previous reports stay intact, and :class:`NotebookFailed` is raised.
    """
    from ecomlib.data.source import open_source

    if profile not in PROFILES:
        raise ParameterError(f"Unknown profile {profile!r}. Profiles: {', '.join(PROFILES)}.")
    paths = [find_notebook(n) for n in notebooks] if notebooks else list_notebooks()
    if not paths:
        raise EcomError(f"No numbered notebooks found in {notebooks_dir()}.")
    overrides = dict(overrides or {})
    if data is not None and "DATA" in overrides:
        raise ParameterError("give the data source once: --data FILE or -p DATA FILE, not both.")
    data = data if data is not None else overrides.pop("DATA", None)
    needs = any(notebook_requirements(p) for p in paths)
    # the notebook's DATA default ("") is the bundled source
    source = open_source(data) if data or needs else None
    if data:
        from ecomlib.data.checks import require_ok

        require_ok(source)
    plans, skipped = [], []
    for path in paths:  # validate every parameter before running anything
        params = {**load_profile(profile, path.stem), **overrides}
        declared = notebook_parameters(path)
        if "PROFILE" in declared:
            params.setdefault("PROFILE", profile)
        if data and "DATA" in declared:
            params["DATA"] = str(source.path) if source.path else str(data)
        reason = missing_requirement(path, source) if source else None
        if reason:
            skipped.append(NotebookResult(path.stem, "skipped", None, {}, error=reason))
            if on_skip:
                on_skip(path.stem, reason)
            continue
        plans.append((path, check_parameters(path, params)))
    if not plans:
        raise EcomError(
            f"nothing to run on data source {source.name!r}: "
            + "; ".join(f"{r.name}: {r.error}" for r in skipped)
        )
    data_info = {
        "name": source.name if source else "completejourney",
        "path": str(source.path) if source and source.path else None,
    }

    out = Path(out) if out else config.reports_dir()
    out.mkdir(parents=True, exist_ok=True)
    run_name = run_name or f"{dt.datetime.now():%Y%m%d-%H%M%S}-{profile}"
    final = out / run_name
    if final.exists():
        raise EcomError(f"Report directory {final} already exists; choose another --run-name.")
    tmp = Path(tempfile.mkdtemp(prefix=f".{run_name}.", dir=out))
    results: list[NotebookResult] = []
    started = dt.datetime.now().isoformat(timespec="seconds")
    try:
        for path, params in plans:
            log.info("running %s with %s", path.stem, params)
            try:
                results.append(execute_notebook(path, tmp, params, progress=progress))
            except NotebookFailed as exc:
                results.append(NotebookResult(path.stem, "failed", None, params, error=str(exc)))
                _write_run_summary(tmp, run_name, profile, started, results + skipped, data_info)
                failed_dir = out / f"failed-{run_name}"
                shutil.rmtree(failed_dir, ignore_errors=True)
                os.replace(tmp, failed_dir)
                write_index(out)
                raise NotebookFailed(
                    f"{exc}\nPartially executed notebook kept in {failed_dir}/{path.name}"
                ) from None
        _write_run_summary(tmp, run_name, profile, started, results + skipped, data_info)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    write_index(out)
    return final, results + skipped


def _write_run_summary(
    run_dir: Path,
    run_name: str,
    profile: str,
    started: str,
    results: list[NotebookResult],
    data: dict[str, Any] | None = None,
) -> None:
    payload = {
        "run": run_name,
        "profile": profile,
        "started": started,
        "data": data,
        "notebooks": {
            r.name: {
                "status": r.status,
                "seconds": r.seconds,
                "peak_mb": r.peak_mb,
                "parameters": r.parameters,
                "metrics": r.metrics,
                "headline": r.headline,
                "error": r.error,
            }
            for r in results
        },
    }
    write_json_atomic(run_dir / "metrics.json", payload)


def refresh_in_place(path: Path, timeout: int | None = None) -> NotebookResult:
    """Re-execute a notebook at its default parameters and overwrite it with the outputs.

    This is how committed notebooks get their outputs (``make notebooks``). The file is only
    replaced when execution succeeded.
    """
    path = Path(path).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        result = execute_notebook(path, Path(tmp), {}, progress=True, timeout=timeout)
        import nbformat

        nb = nbformat.read(Path(tmp) / path.name, as_version=4)
        nb.metadata.pop("papermill", None)
        for cell in nb.cells:
            cell.metadata.pop("papermill", None)
            cell.metadata.pop("execution", None)
        nbformat.write(nb, str(path))
    return result


from ecomlib.report.index import write_index  # noqa: E402  (index imports nothing from here)
