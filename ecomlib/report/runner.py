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
import asyncio
import datetime as dt
import logging
import os
import re
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
# seconds a kernel has to exit after a shutdown request before it is interrupted
GRACEFUL_SHUTDOWN_S = 3.0


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
    path = Path(profile) if str(profile).endswith((".yaml", ".yml")) else None
    path = path or notebooks_dir() / "profiles" / f"{profile}.yaml"
    if not path.is_file():
        avail = sorted(p.stem for p in (notebooks_dir() / "profiles").glob("*.yaml"))
        raise ParameterError(f"Unknown profile {profile!r}. Profiles: default, {', '.join(avail)}.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ParameterError(f"profile {path}{where}: not valid YAML ({problem}).") from None
    if not isinstance(data, dict) or not isinstance(data.get(notebook) or {}, dict):
        raise ParameterError(
            f"profile {path}: expected 'notebook_stem: {{PARAM: value, ...}}' sections."
        )
    return dict(data.get(notebook) or {})


def find_profile(profile: str) -> str | Path:
    """``profile`` as given to ``--profile``: a name in ``notebooks/profiles/`` or the path of
    a YAML file of one's own (``mine.yaml``)."""
    if profile in PROFILES:
        return profile
    path = Path(profile).expanduser()
    if path.suffix.lower() in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ParameterError(f"profile file {path.resolve()} not found.")
        return path.resolve()
    named = notebooks_dir() / "profiles" / f"{profile}.yaml"
    if named.is_file():
        return profile
    avail = sorted(p.stem for p in (notebooks_dir() / "profiles").glob("*.yaml"))
    raise ParameterError(
        f"Unknown profile {profile!r}. Profiles: default, {', '.join(avail)}, or a .yaml file."
    )


def read_notebook(path: Path):
    """The notebook at ``path`` (nbformat v4), or :class:`ParameterError` naming the file when
    it cannot be read as a notebook."""
    import nbformat

    try:
        return nbformat.read(path, as_version=4)
    except OSError as exc:
        raise ParameterError(f"{path}: cannot be read ({exc.strerror}).") from None
    except Exception as exc:  # nbformat raises NotJSONError, ValidationError, ...
        first = str(exc).strip().splitlines()[:1]
        raise ParameterError(
            f"{path}: not a valid Jupyter notebook ({first[0][:120] if first else type(exc).__name__})."
        ) from None


def notebook_parameters(path: Path) -> dict[str, Any]:
    """Names and default values of the notebook's ``parameters`` cell."""
    nb = read_notebook(path)
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
    nb = read_notebook(path)
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
    ``None`` or not a literal accept any value. Values are then checked against what the
    notebook declares (:mod:`ecomlib.report.params`: ranges, choices, devices, time zones).
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
    if not problems:
        from ecomlib.report.params import check_values

        problems = check_values(path, out)
    if problems:
        raise ParameterError(f"{path.stem}: " + "; ".join(problems) + ".")
    return out


_BOOL_WORDS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def _conform(value: Any, default: Any) -> Any:
    """``value`` converted to the type of ``default``; TypeError names the expected type."""
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):  # -p FLAG 1 like -p FLAG yes
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
            return _BOOL_WORDS[value.strip().lower()]
        raise TypeError("True or False (also yes/no, 1/0)")
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
    cells: list[list] = field(default_factory=list)  # [code cell number, seconds, first line]


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


def _local_kernel_manager(stderr_path: Path | None = None):
    """A new kernel manager class for one notebook run. Its ``peak_mb`` (a class attribute,
    so the caller can read it after papermill has dropped the manager) is the kernel's peak
    resident memory, read just before the kernel is shut down. With ``stderr_path`` the
    kernel's own stderr (ipykernel's log lines, not cell output) goes to that file instead of
    the terminal.

    Its ``shutdown_kernel`` first asks the kernel to shut down and waits for it to exit
    (:data:`GRACEFUL_SHUTDOWN_S`); only a kernel still busy then (a cell running on Ctrl-C or
    SIGTERM) gets jupyter_client's interrupt, shutdown request, SIGTERM and SIGKILL.
    jupyter_client sends SIGINT before every shutdown request, and papermill shuts the kernel
    down as soon as the reply to its last ``kernel_info`` request arrives: a SIGINT that found
    the kernel still inside that message handler made ipykernel log "KeyboardInterrupt caught
    in kernel." after a notebook that had succeeded."""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.paths import jupyter_runtime_dir
    from jupyter_core.utils import ensure_dir_exists
    from traitlets import default

    class MeasuredKernelManager(AsyncKernelManager):
        peak_mb: float | None = None

        async def _async_launch_kernel(self, kernel_cmd, **kw) -> None:
            if stderr_path is not None:
                kw["stderr"] = open(stderr_path, "ab")  # noqa: SIM115 - the kernel owns it
            await super()._async_launch_kernel(kernel_cmd, **kw)

        async def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
            pid = getattr(self.provisioner, "pid", None)
            peak = process_peak_mb(pid) if pid else None
            if peak is not None:
                type(self).peak_mb = max(type(self).peak_mb or 0.0, peak)
            if not now and not restart and self.owns_kernel and self.has_kernel:
                await self._shutdown_without_interrupt()
            # whatever is left: a busy kernel is interrupted, terminated, killed; an exited one
            # has no process to signal, so this only closes the sockets and connection file
            await super().shutdown_kernel(now=now, restart=restart)

        async def _shutdown_without_interrupt(self) -> None:
            """Send ``shutdown_request`` and wait up to GRACEFUL_SHUTDOWN_S for the kernel to
            exit; an idle kernel (every cell done) exits within a fraction of a second."""
            await self.request_shutdown()
            deadline = time.monotonic() + GRACEFUL_SHUTDOWN_S
            while await self.is_alive():
                if time.monotonic() > deadline:
                    return
                await asyncio.sleep(0.05)
            await self.provisioner.wait()  # reaps the process: has_kernel is False now

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


def cell_seconds(executed: Path, min_seconds: float = 0.5) -> list[list]:
    """``[code cell number, seconds, first line]`` of each code cell of an executed notebook
    that took at least ``min_seconds`` (papermill records every cell's duration)."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    out = []
    code = [c for c in nb.cells if c.cell_type == "code"]
    for number, cell in enumerate(code, start=1):
        seconds = (cell.metadata.get("papermill") or {}).get("duration")
        if seconds is not None and seconds >= min_seconds:
            lines = [
                ln
                for ln in cell.source.splitlines()
                if ln.strip() and not ln.lstrip().startswith("#")
            ]
            out.append([number, round(float(seconds), 2), (lines[0] if lines else "")[:80]])
    return out


def execute_notebook(
    path: Path,
    out_dir: Path,
    parameters: dict[str, Any] | None = None,
    progress: bool = True,
    timeout: int | None = None,
    footer: dict[str, Any] | None = None,
) -> NotebookResult:
    """Execute one notebook with papermill into ``out_dir`` (ipynb, html, metrics).

    ``footer`` (the run's manifest) is printed at the foot of the HTML page, with the
    parameters this notebook ran with. Raises
    :class:`NotebookFailed` (after writing the partial notebook) when a cell raises.
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
    kernel_log = out_dir / f".{path.stem}.kernel.log"
    manager = _local_kernel_manager(kernel_log)
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
        result.cells = cell_seconds(executed)
        page_footer = (
            {**footer, "parameters": parameters, "data": _page_data(path, parameters, footer)}
            if footer
            else None
        )
        export_html(executed, out_dir / f"{path.stem}.html", footer=page_footer)
    if error:
        if kernel_log.exists() and kernel_log.stat().st_size:
            kernel_log.replace(out_dir / f"{path.stem}.kernel.log")  # kept for debugging
        raise NotebookFailed(error)
    kernel_log.unlink(missing_ok=True)
    return result


def page_title(nb, stem: str) -> str:
    """``<stem> · <the notebook's H1 title>`` (the stem alone when it has none)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return f"{stem} · {line[2:].strip()}"
    return stem


def export_html(executed: Path, target: Path, footer: dict[str, Any] | None = None) -> None:
    """HTML without code cells (``nbconvert --no-input``), images embedded, each figure with
    the alternative text recorded by :func:`ecomlib.plots.set_style` (template ``ecom_report``,
    the JupyterLab one plus ``alt``); ``footer`` (a run manifest) is listed at its foot."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="ecom_report",
        extra_template_basedirs=[str(Path(__file__).parent / "templates")],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    nb = nbformat.read(executed, as_version=4)
    resources = {"metadata": {"name": page_title(nb, executed.stem)}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    if footer:
        body = body.replace("</body>", _footer_html(footer) + "\n</body>", 1)
    target.write_text(body, encoding="utf-8")


def _parameter_text(value: Any) -> str:
    """A parameter value as ``-p`` takes it: text bare unless empty or padded, lists as
    ``[a, b]``, everything else as Python writes it."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_parameter_text(v) for v in value) + "]"
    if isinstance(value, str):
        return value if value and value.strip() == value and "," not in value else repr(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return repr(value)


def _page_data(path: Path, parameters: dict[str, Any], footer: dict[str, Any]) -> dict:
    """The data source a notebook's page names: its ``DATA`` (given, else its own default,
    such as notebook 06's CDNOW) when that is not the run's source, else the run's."""
    run_data = footer.get("data") or {}
    name = parameters.get("DATA")
    if name is None:
        name = notebook_parameters(path).get("DATA")
    if not isinstance(name, str) or not name.strip():
        return run_data
    try:
        from ecomlib.data import open_source

        src = open_source(name)
    except Exception:  # noqa: BLE001 - a page footer: name what was asked for
        return {"name": name}
    if src.name == run_data.get("name"):
        return run_data
    return {"name": src.name, "fingerprint": _data_fingerprint(src)}


def _footer_html(manifest: dict[str, Any]) -> str:
    import html

    data = manifest.get("data") or {}
    versions = ", ".join(f"{k} {v}" for k, v in (manifest.get("versions") or {}).items())
    params = manifest.get("parameters")
    if params is not None:  # those of the profile and -p; the rest are the notebook's defaults
        params = ", ".join(f"{k}={_parameter_text(v)}" for k, v in params.items())
        params = f"parameters {params or '(notebook defaults)'}"
    parts = [
        f"run {manifest.get('run', '')}",
        f"profile {manifest.get('profile', '')}",
        params,
        f"data {data.get('name', '')} (fingerprint {data.get('fingerprint', '-')})",
        f"engine {manifest.get('engine', '')}",
        f"commit {manifest.get('commit') or '-'}",
        versions,
    ]
    text = " · ".join(html.escape(str(p)) for p in parts if p)
    return (
        '<footer class="ecom-manifest" style="margin:2em 1em;font-size:smaller;color:#666">'
        f"{text}</footer>"
    )


RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,120}$")
PATH_PARAMETER = re.compile(r"(_FILE|_DIR|_PATH)$")
OWNER_FILE = ".owner"


class RunInterrupted(EcomError):
    """Ctrl-C or SIGTERM during a run; the notebooks that finished are kept."""


def _reports_folder(out: Path | None) -> Path:
    """``--out`` resolved against the caller's working directory, created and writable."""
    out = Path(out).expanduser() if out else config.reports_dir()
    out = (out if out.is_absolute() else Path.cwd() / out).resolve()
    if out.exists() and not out.is_dir():
        raise ParameterError(f"--out {out} is a file; give a folder (it is created when missing).")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ParameterError(
            f"--out {out}: a part of that path is a file, not a folder; choose another folder."
        ) from None
    except PermissionError:
        raise ParameterError(
            f"--out {out}: no permission to create it; choose a folder you can write to."
        ) from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ParameterError(f"--out {out} is not writable; choose a folder you can write to.")
    return out


def _check_run_name(name: str) -> str:
    if not RUN_NAME.match(name) or name.startswith(("failed-", "interrupted-")):
        raise ParameterError(
            f"--run-name {name!r}: use letters, digits, '.', '_', '+' and '-' only (no '/', '#', "
            "'?', spaces or a leading '.'; not starting with 'failed-' or 'interrupted-'), "
            "e.g. --run-name weekly-2026-12."
        )
    return name


def _resolve_paths(params: dict[str, Any]) -> dict[str, Any]:
    """Relative paths in ``*_FILE``, ``*_DIR`` and ``*_PATH`` parameters, against the caller's
    working directory (the kernel runs in ``notebooks/``)."""
    out = dict(params)
    for key, value in params.items():
        if PATH_PARAMETER.search(key) and isinstance(value, str) and value.strip():
            path = Path(value).expanduser()
            out[key] = str(path if path.is_absolute() else (Path.cwd() / path).resolve())
    return out


def _sweep_stale(out: Path) -> None:
    """Remove the temporary folders (``.<run>.<random>``) of runs whose process is gone."""
    import psutil

    for folder in out.glob(".*.*"):
        owner = folder / OWNER_FILE
        if not folder.is_dir() or not owner.is_file():
            continue
        try:
            pid = int(owner.read_text().strip())
        except (OSError, ValueError):
            continue
        if pid != os.getpid() and not psutil.pid_exists(pid):
            shutil.rmtree(folder, ignore_errors=True)


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o777 & ~mask


def run(
    notebooks: list[str] | None = None,
    profile: str = "full",
    overrides: dict[str, Any] | None = None,
    out: Path | None = None,
    run_name: str | None = None,
    progress: bool = True,
    data: str | Path | None = None,
    on_skip=None,
    on_result=None,
    engine: str | None = None,
    cache: bool = True,
    jobs: int = 1,
    resume: str | Path | None = None,
) -> tuple[Path, list[NotebookResult]]:
    """Execute notebooks into a new report directory; return its path and the results.

    ``profile`` is a name (``default``, ``smoke``, ``full``, ``gpu``, or one of
    ``notebooks/profiles/*.yaml``) or the path of a YAML profile. ``data`` names the data
    source (a bundled name or a YAML path; default: the bundled one). It is checked
    (:func:`ecomlib.data.checks.require_ok`) before anything runs and passed to each notebook
    as ``DATA``; a notebook whose tables the source lacks is skipped, with a ``skipped``
    result whose ``error`` says which table, reported through ``on_skip(name, reason)``;
    ``on_result(result)`` is called as each notebook finishes.
    Paths (``--out``, ``*_FILE``/``*_DIR``/``*_PATH`` parameters, the source) are resolved
    against the caller's working directory before the kernel starts.

    ``engine`` (``duckdb`` or ``spark``; default ``ECOM_ENGINE`` or duckdb) is checked and
    handed to the kernels as ``ECOM_ENGINE``; ``cache=False`` (or ``-p CACHE False``) bypasses
    the step cache (:mod:`ecomlib.cache`); ``jobs`` > 1 runs that many notebooks at once, each
    in its own kernel. ``resume`` names a ``failed-`` or ``interrupted-`` run folder: its
    finished notebooks are kept and the others re-run with the parameters recorded there.

    The directory appears (atomically renamed) only when every notebook succeeded. When one
    fails, the partial run is kept under ``<out>/failed-<run>/`` and :class:`NotebookFailed`
    is raised; on Ctrl-C (or SIGTERM through the CLI) the finished notebooks are kept under
    ``<out>/interrupted-<run>/`` and :class:`RunInterrupted` is raised. Earlier reports stay
    intact; temporary folders of runs that died are swept by the next run. ``metrics.json``
    holds the run's manifest (versions, data fingerprint, engine, commit) and each notebook's
    parameters, metrics and per-cell seconds.
    """
    overrides = dict(overrides or {})
    if "CACHE" in overrides:  # -p CACHE False: a run-wide switch, not a notebook parameter
        cache = cache and _as_flag(overrides.pop("CACHE"), "CACHE")
    if jobs < 1:
        raise ParameterError(f"--jobs {jobs}: give a number of notebooks to run at once, >= 1.")
    out = _reports_folder(out)
    if run_name is not None:
        _check_run_name(run_name)
    previous = _load_resume(out, resume) if resume is not None else None
    if previous is not None:
        plans, skipped, done, source_info, profile_label, run_name, resume_dir = previous
        run_name = _check_run_name(run_name)
        source = None
    else:
        done = []
        plans, skipped, source, profile_label = _plan(notebooks, profile, overrides, data, on_skip)
        run_name = _check_run_name(run_name or f"{dt.datetime.now():%Y%m%d-%H%M%S}-{profile_label}")
        source_info = {
            "name": source.name if source else "completejourney",
            "path": str(source.path) if source and source.path else None,
            "fingerprint": _data_fingerprint(source),
        }
    engine = _check_engine(engine, source)
    final = out / run_name
    if final.exists():
        raise EcomError(f"Report directory {final} already exists; choose another --run-name.")
    manifest = _manifest(run_name, profile_label, source_info, engine, cache)

    _sweep_stale(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{run_name}.", dir=out))
    (tmp / OWNER_FILE).write_text(str(os.getpid()))
    if previous is not None:
        rerun = tuple(path.stem for path, _ in plans)
        for f in resume_dir.iterdir():  # what the finished notebooks wrote, reports and files
            if f.is_file() and f.name != "metrics.json" and not f.name.startswith(rerun):
                shutil.copy2(f, tmp / f.name)
    results: list[NotebookResult] = list(done)
    started = dt.datetime.now().isoformat(timespec="seconds")

    def summary() -> None:
        _write_run_summary(tmp, manifest, started, results + skipped)

    def keep(prefix: str) -> Path:
        summary()
        target = out / f"{prefix}{run_name}"
        shutil.rmtree(target, ignore_errors=True)
        (tmp / OWNER_FILE).unlink(missing_ok=True)
        tmp.chmod(_umask_mode())
        os.replace(tmp, target)
        write_index(out)
        return target

    env = {"ECOM_ENGINE": engine, "ECOM_CACHE": "1" if cache else "0"}
    saved_env = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        failure = None
        try:
            for result in _execute_all(plans, tmp, progress and jobs == 1, jobs, manifest):
                results.append(result)
                if result.status == "failed":
                    failure = failure or result
                elif on_result:
                    on_result(result)
        except KeyboardInterrupt:
            finished = {r.name for r in results}
            results.extend(
                NotebookResult(p.stem, "interrupted", None, prm, error="interrupted")
                for p, prm in plans
                if p.stem not in finished
            )
            kept = keep("interrupted-")
            ok = [r.name for r in results if r.status == "ok"]
            during = ", ".join(r.name for r in results if r.status == "interrupted")
            raise RunInterrupted(
                f"interrupted during {during}; "
                + (
                    f"finished notebooks ({', '.join(ok)}) kept in {kept}"
                    if ok
                    else f"nothing had finished (partial run in {kept})"
                )
                + f"; finish it with: ecom run --resume {kept.name}"
            ) from None
        if failure is not None:
            finished = {r.name for r in results}
            results.extend(  # what --resume will run
                NotebookResult(
                    p.stem, "not run", None, prm, error=f"not run: {failure.name} failed"
                )
                for p, prm in plans
                if p.stem not in finished
            )
            failed_dir = keep("failed-")
            raise NotebookFailed(
                f"{failure.error}\nPartially executed notebook kept in "
                f"{failed_dir}/{failure.name}.ipynb; after fixing the cause, finish the run "
                f"with: ecom run --resume {failed_dir.name}"
            )
        summary()
        (tmp / OWNER_FILE).unlink(missing_ok=True)
        tmp.chmod(_umask_mode())
        os.replace(tmp, final)
        if previous is not None:
            shutil.rmtree(resume_dir, ignore_errors=True)  # its content is in `final`
    finally:
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    write_index(out)
    return final, results + skipped


def _as_flag(value: Any, name: str) -> bool:
    try:
        return _conform(value, True)
    except TypeError:
        raise ParameterError(f"-p {name} {value!r}: use true or false (yes/no, 1/0).") from None


def _check_engine(engine: str | None, source=None) -> str:
    """The engine for this run, available here: ``--engine``, else ``ECOM_ENGINE``, else the
    source file's ``engine:``, else duckdb."""
    from ecomlib.data.engines import ENGINES, available_engines, default_engine

    name = (engine or default_engine(source)).strip().lower()
    if name not in ENGINES:
        raise ParameterError(f"--engine {name!r}: use one of {', '.join(ENGINES)}.")
    reason = available_engines(source).get(name)
    if reason:
        raise ParameterError(f"--engine {name}: not available here: {reason}.")
    return name


def _plan(notebooks, profile, overrides, data, on_skip):
    """Resolve notebooks, profile, parameters and the data source; validate everything."""
    from ecomlib.data.source import open_source

    profile = find_profile(profile)
    profile_label = Path(profile).stem if isinstance(profile, Path) else profile
    names = list(dict.fromkeys(notebooks or []))  # `ecom run 01 01` runs once
    paths = list(dict.fromkeys(find_notebook(n) for n in names)) if names else list_notebooks()
    if not paths:
        raise EcomError(f"No numbered notebooks found in {notebooks_dir()}.")
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
        from_profile = load_profile(profile, path.stem)
        declared = notebook_parameters(path)
        unknown = sorted(set(from_profile) - set(declared))
        if unknown:
            where = profile if isinstance(profile, Path) else f"profile {profile!r}"
            raise ParameterError(
                f"{where}, section {path.stem}: unknown parameter(s) {', '.join(unknown)}. "
                f"Valid parameters: {', '.join(declared)}."
            )
        params = _resolve_paths({**from_profile, **overrides})
        if "PROFILE" in declared:
            params.setdefault("PROFILE", profile_label)
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
    return plans, skipped, source, profile_label


def _load_resume(out: Path, resume: str | Path):
    """Plans of a ``failed-``/``interrupted-`` run: its unfinished notebooks with their
    recorded parameters, and its finished ones as results."""
    folder = Path(resume)
    folder = folder if folder.is_absolute() else out / folder
    name = folder.name
    prefix = next((p for p in ("failed-", "interrupted-") if name.startswith(p)), None)
    if prefix is None or not (folder / "metrics.json").is_file():
        runs = sorted(p.name for p in out.glob("failed-*")) + sorted(
            p.name for p in out.glob("interrupted-*")
        )
        raise ParameterError(
            f"--resume {resume}: no failed or interrupted run of that name in {out} "
            f"(resumable: {', '.join(runs) or 'none'})."
        )
    import json

    try:
        payload = json.loads((folder / "metrics.json").read_text())
        recorded = payload["notebooks"]
    except (OSError, ValueError, KeyError):
        raise ParameterError(f"--resume {folder}: its metrics.json is not readable.") from None
    plans, done, skipped = [], [], []
    for stem, info in recorded.items():
        fields = {k: info.get(k) for k in ("seconds", "peak_mb", "error")}
        r = NotebookResult(
            stem,
            info.get("status", "?"),
            fields["seconds"],
            info.get("parameters") or {},
            info.get("metrics") or {},
            fields["error"],
            info.get("headline") or [],
            fields["peak_mb"],
            info.get("cells") or [],
        )
        if r.status == "ok":
            done.append(r)
        elif r.status == "skipped":
            skipped.append(r)
        else:
            plans.append((find_notebook(stem), check_parameters(find_notebook(stem), r.parameters)))
    if not plans:
        raise ParameterError(f"--resume {folder}: every notebook of that run finished.")
    manifest = payload.get("manifest") or {}
    data = manifest.get("data") or payload.get("data") or {}
    profile_label = manifest.get("profile") or payload.get("profile") or "full"
    return plans, skipped, done, data, profile_label, name[len(prefix) :], folder


def _execute_all(plans, tmp: Path, progress: bool, jobs: int, manifest: dict):
    """Yield each notebook's result as it finishes; a failure is yielded as a ``failed``
    result and stops the start of further notebooks (running ones finish)."""
    if jobs == 1 or len(plans) == 1:
        for path, params in plans:
            log.info("running %s with %s", path.stem, params)
            try:
                yield execute_notebook(path, tmp, params, progress=progress, footer=manifest)
            except NotebookFailed as exc:
                yield NotebookResult(path.stem, "failed", None, params, error=str(exc))
                return
        return
    import concurrent.futures as cf
    import multiprocessing

    pool = cf.ProcessPoolExecutor(
        max_workers=min(jobs, len(plans)), mp_context=multiprocessing.get_context("spawn")
    )
    try:
        futures = {
            pool.submit(execute_notebook, path, tmp, params, False, None, manifest): (path, params)
            for path, params in plans
        }
        for future in cf.as_completed(futures):
            path, params = futures[future]
            try:
                yield future.result()
            except NotebookFailed as exc:
                for f in futures:
                    f.cancel()
                yield NotebookResult(path.stem, "failed", None, params, error=str(exc))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _data_fingerprint(source) -> str | None:
    """A short hash of the size and modification time of every file the source reads."""
    if source is None:
        return None
    import hashlib
    import json

    blob = json.dumps(source.fingerprint(), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


_MANIFEST_PACKAGES = (
    "ecom-analytics",
    "numpy",
    "pandas",
    "duckdb",
    "torch",
    "transformers",
    "scikit-learn",
    "lightgbm",
    "statsforecast",
    "papermill",
    "pyspark",
)


def _manifest(run_name: str, profile: str, data: dict, engine: str, cache: bool) -> dict:
    """What a run ran with: versions, data fingerprint, engine, cache, commit."""
    import importlib.metadata
    import platform

    versions = {"python": platform.python_version()}
    for name in _MANIFEST_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return {
        "run": run_name,
        "profile": profile,
        "data": data,
        "engine": engine,
        "cache": cache,
        "commit": _git_commit(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "versions": versions,
    }


def _git_commit() -> str | None:
    """The checkout's commit (short hash, ``+`` when files are modified), or None."""
    import subprocess

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["git", *args], cwd=config.project_root(), capture_output=True, text=True, timeout=10
        )

    try:
        head = git("rev-parse", "--short", "HEAD")
        if head.returncode != 0:
            return None
        dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
        return head.stdout.strip() + ("+" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _write_run_summary(
    run_dir: Path, manifest: dict[str, Any], started: str, results: list[NotebookResult]
) -> None:
    payload = {
        "run": manifest["run"],
        "profile": manifest["profile"],
        "started": started,
        "seconds": sum(r.seconds for r in results if r.seconds is not None),
        "commit": manifest.get("commit"),
        "data": manifest.get("data"),
        "manifest": manifest,
        "notebooks": {
            r.name: {
                "status": r.status,
                "seconds": r.seconds,
                "peak_mb": r.peak_mb,
                "parameters": r.parameters,
                "metrics": r.metrics,
                "headline": r.headline,
                "error": r.error,
                "cells": r.cells,
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
