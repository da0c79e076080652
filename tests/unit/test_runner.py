"""`ecom run`: parameters, atomic report folders, failures, index page, CLI exit codes."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from ecomlib.errors import ParameterError
from ecomlib.report import runner

PARAMS = 'PROFILE = "default"\nSEED = 42\nN = 3\n'
BODY = (
    "from ecomlib.report import record\n"
    "total = sum(range(N))\n"
    "record('total', total, headline=True)\n"
    "record('profile', PROFILE)\n"
    "print(f'total={total}')"
)


def _notebook(path: Path, body: str, params: str = PARAMS) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Test notebook"),
        cell,
        nbformat.v4.new_code_cell(body),
    ]
    nbformat.write(nb, str(path))


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A throwaway project: notebooks/01_ok, notebooks/02_boom, a smoke profile."""
    nbdir = tmp_path / "notebooks"
    (nbdir / "profiles").mkdir(parents=True)
    _notebook(nbdir / "01_ok.ipynb", BODY)
    _notebook(nbdir / "02_boom.ipynb", "raise ValueError('the data is bad')")
    (nbdir / "profiles" / "smoke.yaml").write_text("01_ok:\n  N: 5\n02_boom: {}\n")
    monkeypatch.setenv("ECOM_HOME", str(tmp_path))
    monkeypatch.setenv("ECOM_REPORTS_DIR", str(tmp_path / "reports"))
    return tmp_path


def test_notebook_parameters_are_read_from_the_tagged_cell(project):
    params = runner.notebook_parameters(runner.find_notebook("01"))
    assert params == {"PROFILE": "default", "SEED": 42, "N": 3}


def test_unknown_parameter_is_refused_with_the_valid_list(project):
    with pytest.raises(
        ParameterError,
        match=r"unknown parameter\(s\) EPOCHS.*Valid parameters: "
        r"PROFILE, SEED, N",
    ):
        runner.run(["01"], profile="smoke", overrides={"EPOCHS": 3}, progress=False)
    assert not (project / "reports").exists() or not any((project / "reports").iterdir())


def test_parameter_of_the_wrong_type_is_refused_before_anything_runs(project):
    with pytest.raises(ParameterError, match=r"N expects an integer \(default 3\), got 'abc'"):
        runner.run(["01"], profile="smoke", overrides={"N": "abc"}, progress=False)
    with pytest.raises(ParameterError, match="SEED expects an integer.*got 2.5"):
        runner.run(["01"], profile="smoke", overrides={"SEED": 2.5}, progress=False)
    assert not (project / "reports").exists() or not any((project / "reports").iterdir())


@pytest.mark.parametrize(
    ("default", "value", "expected"),
    [
        (3, 4.0, 4),
        (0.5, 1, 1.0),
        ("auto", "cuda:1", "cuda:1"),
        ("", 2017, "2017"),
        ("2017-01-01", dt.date(2017, 3, 1), "2017-03-01"),
        (["a"], "AutoETS, LightGBM", ["AutoETS", "LightGBM"]),
        (["a"], (1, 2), [1, 2]),
        (None, 800, 800),
        (3, None, None),
        (True, False, False),
        ({"lam": [1]}, {"lam": [2]}, {"lam": [2]}),
    ],
)
def test_parameter_values_are_conformed_to_the_default_type(default, value, expected):
    got = runner._conform(value, default)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    ("default", "value", "expected"),
    [
        (3, True, "an integer"),
        (3, 2.5, "an integer"),
        (0.5, "x", "a number"),
        (True, 2, "True or False"),
        (True, "maybe", "True or False"),
        ("auto", [1], "text"),
        (["a"], 3, "a list"),
        ({"a": 1}, [1], "a mapping"),
    ],
)
def test_parameter_values_of_the_wrong_type_name_the_expected_type(default, value, expected):
    with pytest.raises(TypeError, match=expected):
        runner._conform(value, default)


def test_unknown_notebook_and_profile(project):
    with pytest.raises(ParameterError, match="Notebooks: 01_ok, 02_boom"):
        runner.find_notebook("07")
    with pytest.raises(ParameterError, match="Unknown profile"):
        runner.run(["01"], profile="huge", progress=False)


def test_run_writes_report_metrics_and_index(project):
    final, results = runner.run(
        ["01"], profile="smoke", overrides={"N": 10}, run_name="r1", progress=False
    )
    assert final == project / "reports" / "r1"
    assert results[0].metrics == {"total": 45, "profile": "smoke"}
    summary = json.loads((final / "metrics.json").read_text())
    assert summary["notebooks"]["01_ok"]["metrics"]["total"] == 45
    assert summary["notebooks"]["01_ok"]["parameters"] == {"N": 10, "PROFILE": "smoke"}
    html = (final / "01_ok.html").read_text()
    assert "total=45" in html and "sum(range(N))" not in html  # outputs kept, code hidden
    executed = nbformat.read(final / "01_ok.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    index = (project / "reports" / "index.html").read_text()
    assert "r1/01_ok.html" in index and "total" in index
    assert not [p for p in (project / "reports").iterdir() if p.name.startswith(".")]
    # the kernel's peak resident memory, read from /proc before it shut down: a Python
    # kernel that imported ecomlib holds tens of MB, far below this machine's memory
    peak = summary["notebooks"]["01_ok"]["peak_mb"]
    if sys.platform.startswith("linux"):
        assert results[0].peak_mb == peak and 20 < peak < 8192
        assert "peak memory" in index and f"{peak / 1024:.1f} GB" in index


def test_process_peak_memory_is_read_from_proc():
    if not sys.platform.startswith("linux"):
        pytest.skip("VmHWM is read from /proc (Linux)")
    before = runner.process_peak_mb(os.getpid())
    block = bytearray(200 * 2**20)  # touch 200 MB: the high-water mark must follow
    block[::4096] = b"x" * len(block[::4096])
    assert runner.process_peak_mb(os.getpid()) >= max(before, 200)
    del block
    assert runner.process_peak_mb(2**22 + 12345) is None  # no such process


def test_failing_notebook_keeps_previous_reports_intact(project):
    good, _ = runner.run(["01"], profile="smoke", run_name="good", progress=False)
    before = {p.name: p.read_bytes() for p in good.iterdir()}
    with pytest.raises(runner.NotebookFailed) as err:
        runner.run(["01", "02"], profile="smoke", run_name="bad", progress=False)
    msg = str(err.value)
    assert "02_boom" in msg and "ValueError" in msg and "the data is bad" in msg
    assert "code cell" in msg
    reports = project / "reports"
    assert not (reports / "bad").exists()
    assert (reports / "failed-bad" / "02_boom.ipynb").exists()  # partial notebook kept
    assert {p.name: p.read_bytes() for p in good.iterdir()} == before
    assert "failed" in (reports / "index.html").read_text()


def test_existing_run_name_is_not_overwritten(project):
    runner.run(["01"], profile="smoke", run_name="same", progress=False)
    with pytest.raises(Exception, match="already exists"):
        runner.run(["01"], profile="smoke", run_name="same", progress=False)


def test_coerce_value():
    assert runner.coerce_value("3") == 3
    assert runner.coerce_value("0.5") == 0.5
    assert runner.coerce_value("True") is True
    assert runner.coerce_value("[1, 2]") == [1, 2]
    assert runner.coerce_value("cnn") == "cnn"
    assert runner.coerce_value("None") is None


def _ecom(*args: str, env_root: Path) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "ECOM_HOME": str(env_root), "ECOM_REPORTS_DIR": str(env_root / "reports")}
    return subprocess.run(
        [sys.executable, "-m", "ecomlib.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_cli_unknown_parameter_exits_1_without_traceback(project):
    proc = _ecom("run", "01", "--profile", "smoke", "-p", "BATCH", "64", env_root=project)
    assert proc.returncode == 1
    assert "unknown parameter(s) BATCH" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_param_without_value_is_refused(project):
    proc = _ecom("run", "01", "--profile", "smoke", "-p", "N", "--run-name", "x", env_root=project)
    assert proc.returncode == 1
    assert "-p expects KEY VALUE" in proc.stderr and "'N'" in proc.stderr
    assert "Traceback" not in proc.stderr and not (project / "reports" / "x").exists()


def test_cli_run_with_params(project):
    proc = _ecom(
        "run", "01", "--profile", "smoke", "-p", "N", "4", "--run-name", "cli", env_root=project
    )
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((project / "reports" / "cli" / "metrics.json").read_text())
    assert metrics["notebooks"]["01_ok"]["metrics"]["total"] == 6


def test_cli_failing_notebook_exits_1(project):
    proc = _ecom("run", "02", "--profile", "smoke", env_root=project)
    assert proc.returncode == 1
    assert "02_boom" in proc.stderr and "the data is bad" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_data_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("household_id,basket_id\n1,2\n")
    proc = _ecom("data", "check", str(bad), "--schema", "transactions", env_root=tmp_path)
    assert proc.returncode == 1 and "sales_value" in proc.stderr and "Traceback" not in proc.stderr
    proc = _ecom("data", "fetch", "imagenet", env_root=tmp_path)
    assert proc.returncode == 1 and "Unknown dataset 'imagenet'" in proc.stderr


def test_index_headline_fallback_puts_model_results_before_baselines_and_timings():
    from ecomlib.report.index import _headline

    metrics = {
        "majority_accuracy": 0.658,
        "tfidf_accuracy": 0.804,
        "promo_lift_seconds": 2.0,
        "n_rows": 18250,
        "share_better_than_baseline": 0.8,
        "finetune_accuracy": 0.854,
        "ensemble_roc_auc": 0.913,
        "note": "text is skipped",
    }
    html = _headline(metrics)
    order = [k for k in metrics if k in html]
    shown = sorted(order, key=html.index)
    assert shown[:2] == ["finetune_accuracy", "ensemble_roc_auc"]
    assert shown[2:5] == ["majority_accuracy", "tfidf_accuracy", "share_better_than_baseline"]
    assert shown[5:] == ["promo_lift_seconds"]  # timings/sizes last; n_rows over the limit of 6
    assert "note" not in html
    # explicit headline names win over the heuristic, in the order recorded
    assert _headline(metrics, ["n_rows"]).startswith("<code>n_rows</code>")


def test_index_shows_the_recorded_headline_metrics(tmp_path):
    import json

    from ecomlib.report.index import write_index

    run = tmp_path / "run-1"
    run.mkdir()
    (run / "02_sales_forecasting.html").write_text("<html></html>")
    metrics = {"n_rows": 18250, "backtest_seconds": 137.5, "best_model": "A<B", "best_mase": 0.859}
    summary = {
        "profile": "full",
        "started": "2026-11-28T23:58:10",
        "notebooks": {
            "02_sales_forecasting": {
                "status": "ok",
                "seconds": 163.2,
                "metrics": metrics,
                "headline": ["best_model", "best_mase"],
            }
        },
    }
    (run / "metrics.json").write_text(json.dumps(summary))
    page = write_index(tmp_path).read_text()
    assert "<code>best_model</code> A&lt;B" in page and "<code>best_mase</code> 0.859" in page
    assert "n_rows" not in page and "backtest_seconds" not in page  # only what was chosen


@pytest.mark.parametrize(
    "path",
    sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("0*.ipynb")),
    ids=lambda p: p.stem,
)
def test_papermill_reads_every_parameter_of_the_project_notebooks(path):
    """papermill's own inspector (``papermill --help-notebook``, and its unknown-parameter
    check) must see the parameters ecomlib sees: a comment it cannot parse (e.g. one holding
    ``=``) made papermill warn 'Passed unknown parameter' on every report run."""
    import papermill

    assert set(papermill.inspect_notebook(str(path))) == set(runner.notebook_parameters(path))


def test_index_numbers_read_like_numbers():
    from ecomlib.report.index import _number

    assert _number(1469307) == "1,469,307"
    assert _number(4596039.58) == "4,596,040"
    assert _number(0.85901) == "0.859"
    assert _number(153.76) == "153.8"
    assert _number(True) == "True"
    assert _number("Ensemble") == "Ensemble"


PLOT = (
    "import matplotlib.pyplot as plt\n"
    "from ecomlib import plots\n"
    "plots.set_style()\n"
    "fig, ax = plt.subplots()\n"
    "ax.plot([1, 2, 3])\n"
    "ax.set(title='Daily sales <all stores>', xlabel='day', ylabel='USD')\n"
    "plt.show()"
)


def test_report_figures_carry_their_titles_as_alternative_text(project, caplog):
    _notebook(project / "notebooks" / "03_plot.ipynb", PLOT)
    final, _ = runner.run(["03"], profile="default", run_name="alt", progress=False)
    executed = nbformat.read(final / "03_plot.ipynb", as_version=4)
    pngs = [
        o for c in executed.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert len(pngs) == 1
    alt = "Figure: Daily sales <all stores> (x: day; y: USD)"
    assert pngs[0].metadata["image/png"]["alt"] == alt
    html = (final / "03_plot.html").read_text()
    assert 'alt="Figure: Daily sales &lt;all stores&gt; (x: day; y: USD)"' in html
    assert "No description has been provided" not in html
    assert "Alternative text is missing" not in caplog.text


def test_kernel_talks_over_local_ipc_not_tcp(project, capfd):
    runner.run(["01"], profile="smoke", run_name="ipc", progress=False)
    err = capfd.readouterr().err
    assert "over TCP without encryption" not in err


SLOW_KERNEL_INFO = (
    "import time\n"
    "kernel = get_ipython().kernel\n"
    "reply = kernel.shell_handlers['kernel_info_request']\n"
    "async def slow_kernel_info(*args):\n"
    "    await reply(*args)\n"
    "    time.sleep(1)  # still in the handler when the client has the reply\n"
    "kernel.shell_handlers['kernel_info_request'] = slow_kernel_info\n"
    "print('ready')"
)


def test_kernel_shuts_down_without_a_keyboard_interrupt(project, monkeypatch, tmp_path):
    """papermill shuts the kernel down as soon as the reply to its last kernel_info request
    arrives; jupyter_client's shutdown begins with SIGINT, which, when the kernel had not yet
    left that handler, made ipykernel log "KeyboardInterrupt caught in kernel." after a
    notebook that succeeded. Here the handler lingers a second, so the race is certain."""
    _notebook(project / "notebooks" / "03_linger.ipynb", SLOW_KERNEL_INFO)
    kernel_log = tmp_path / "kernel-stderr.log"  # kept: the runner deletes its own on success
    manager_for = runner._local_kernel_manager
    monkeypatch.setattr(runner, "_local_kernel_manager", lambda _path: manager_for(kernel_log))
    result = runner.execute_notebook(
        runner.find_notebook("03"), tmp_path / "out", {"N": 2}, progress=False
    )
    assert result.status == "ok"
    assert kernel_log.exists()  # the kernel's stderr went there
    assert "KeyboardInterrupt" not in kernel_log.read_text()


def test_each_kernel_gets_its_own_ipc_sockets(monkeypatch, tmp_path):
    """Kernels started from the same folder (two pytest-xdist workers, parallel runs) must not
    share socket paths, or one reads the other's messages ("Invalid Signature")."""
    import asyncio
    import glob

    from jupyter_core.paths import jupyter_runtime_dir

    monkeypatch.chdir(tmp_path)
    manager = runner._local_kernel_manager()
    if manager.__name__ == "AsyncKernelManager":
        pytest.skip("runtime directory too long for IPC sockets here")
    a, b = manager(kernel_name="python3"), manager(kernel_name="python3")
    assert a.ip != b.ip
    assert os.path.dirname(a.ip) == jupyter_runtime_dir()

    async def start_and_stop():
        await a.start_kernel()
        client = a.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=60)  # the kernel has bound its sockets
            sockets = glob.glob(a.ip + "-*")
            assert sockets and not list(tmp_path.iterdir())  # nothing in the working folder
        finally:
            client.stop_channels()
            await a.shutdown_kernel(now=True)

    asyncio.run(start_and_stop())
    assert not glob.glob(a.ip + "-*")  # cleaned up


def test_kernel_falls_back_to_tcp_where_socket_paths_would_be_too_long(monkeypatch, tmp_path):
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / ("x" * 80)))
    fallback = runner._local_kernel_manager()
    assert fallback.__name__ == "MeasuredKernelManager"  # still reports the peak memory
    assert fallback().transport == "tcp"
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", "/tmp/rt")
    assert runner._local_kernel_manager()().transport == "ipc"


# ---------------------------------------------------------------- bad input, interruption
@pytest.mark.parametrize(
    ("value", "expected"), [("yes", True), (1, True), ("no", False), (0, False)]
)
def test_boolean_parameters_accept_yes_no_and_one_zero(value, expected):
    assert runner._conform(value, True) is expected


def _cli(*args, cwd, env=None):
    return subprocess.run(
        [sys.executable, "-m", "ecomlib.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


def test_relative_out_is_resolved_against_the_callers_folder(project):
    elsewhere = project / "elsewhere"
    elsewhere.mkdir()
    out = _cli("run", "01", "--profile", "smoke", "--out", "rep", "--run-name", "r", cwd=elsewhere)
    assert out.returncode == 0, out.stderr
    assert (elsewhere / "rep" / "r" / "01_ok.metrics.json").is_file()
    assert not (project / "notebooks" / "rep").exists()
    # the run folder follows the umask, so a web server or another user can read the report
    assert (elsewhere / "rep" / "r").stat().st_mode & 0o055 == 0o055 & ~_umask() & 0o777


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "{file}"], "is a file"),
        (["--out", "{file}/sub"], "is a file, not a folder"),
        (["--run-name", "../escaped"], "--run-name '../escaped'"),
        (["--run-name", "a#b"], "--run-name 'a#b'"),
        (["--profile", "nope.yaml"], "profile file"),
        (["--profile", "{bad_yaml}"], "not valid YAML"),
        (["--profile", "{typo_profile}"], "section 01_ok: unknown parameter(s) NN"),
    ],
    ids=[
        "out-file",
        "out-under-file",
        "escaping-name",
        "hash-name",
        "no-profile",
        "bad-yaml",
        "typo",
    ],
)
def test_bad_run_options_give_one_line_and_leave_nothing(project, args, message):
    blocker = project / "a_file"
    blocker.write_text("x")
    (project / "bad.yaml").write_text("01_ok: {N: [1,\n")
    (project / "typo.yaml").write_text("01_ok: {NN: 3}\n")
    fmt = {
        "file": str(blocker),
        "bad_yaml": str(project / "bad.yaml"),
        "typo_profile": str(project / "typo.yaml"),
    }
    args = [a.format(**fmt) for a in args]
    reports = project / "reports"
    out = _cli("run", "01", *args, cwd=project)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr and message in out.stderr, out.stderr
    assert not reports.exists() or not any(reports.iterdir())
    assert not (project / "escaped").exists()


def test_a_notebook_that_is_not_json_is_refused_by_name(project):
    bad = project / "broken.ipynb"
    bad.write_text("{not json")
    out = _cli("run", str(bad), cwd=project)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "not a valid Jupyter notebook" in out.stderr


def test_the_same_notebook_twice_runs_once(project):
    final, results = runner.run(["01", "01_ok"], profile="smoke", progress=False)
    assert [r.name for r in results] == ["01_ok"]


def test_failed_run_writes_strict_json(project):
    with pytest.raises(runner.NotebookFailed):
        runner.run(["01", "02"], profile="smoke", run_name="bad", progress=False)
    text = (project / "reports" / "failed-bad" / "metrics.json").read_text()
    assert "NaN" not in text
    assert json.loads(text)["notebooks"]["02_boom"]["seconds"] is None


def test_stale_temporary_folders_of_dead_runs_are_swept(project):
    reports = project / "reports"
    stale = reports / ".old-run.abc123"
    stale.mkdir(parents=True)
    (stale / runner.OWNER_FILE).write_text("999999999")  # no such process
    live = reports / ".live-run.def456"
    live.mkdir()
    (live / runner.OWNER_FILE).write_text(str(os.getpid()))
    runner.run(["01"], profile="smoke", progress=False)
    assert not stale.exists() and live.exists()


def test_sigterm_keeps_finished_notebooks_and_leaves_no_temp_folder(project):
    import signal
    import time

    slow = project / "notebooks" / "03_slow.ipynb"
    _notebook(slow, "import time\ntime.sleep(60)")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ecomlib.cli",
            "run",
            "01",
            "03",
            "--profile",
            "smoke",
            "--run-name",
            "stopped",
        ],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reports = project / "reports"
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until 01 has finished and 03 is running
        tmp = [p for p in reports.glob(".stopped.*") if (p / "01_ok.metrics.json").exists()]
        if tmp and (tmp[0] / "01_ok.html").exists():
            break
        time.sleep(0.5)
    time.sleep(3)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    kept = reports / "interrupted-stopped"
    info = json.loads((kept / "metrics.json").read_text())
    assert info["notebooks"]["01_ok"]["status"] == "ok"
    assert info["notebooks"]["03_slow"]["status"] == "interrupted"
    assert (kept / "01_ok.html").is_file()
    assert not list(reports.glob(".stopped.*"))
    assert "interrupted-stopped" in (reports / "index.html").read_text()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"OUTLIER_QUANTILE": 2}, "OUTLIER_QUANTILE=2.0: must be 0 < x < 1"),
        ({"SAMPLE_HOUSEHOLDS": "abc"}, "SAMPLE_HOUSEHOLDS='abc': expects a number"),
        ({"SAMPLE_HOUSEHOLDS": 0}, "must be >= 1"),
        ({"LOCAL_TIMEZONE": "Mars/Olympus"}, "not an IANA time zone"),
        ({"DEVICE": "gpu0"}, "use auto, cpu, mps, cuda or cuda:N"),
        ({"DATA": "no-such-shop"}, "Unknown data source 'no-such-shop'"),
    ],
)
def test_parameter_values_are_checked_against_the_notebook_declaration(params, message):
    path = runner.find_notebook("01")
    with pytest.raises(ParameterError, match=re.escape(message)):
        runner.check_parameters(path, params)


def test_cuda_is_refused_where_no_gpu_is_visible(monkeypatch):
    from ecomlib.report import params

    monkeypatch.setattr(params, "_cuda_available", lambda: False)
    with pytest.raises(ParameterError, match="no CUDA GPU is visible"):
        runner.check_parameters(runner.find_notebook("01"), {"DEVICE": "cuda"})


def test_ecom_params_lists_defaults_profiles_and_rules():
    out = _cli("params", "01", cwd=Path.cwd())
    assert out.returncode == 0, out.stderr
    assert "OUTLIER_QUANTILE = 0.999    # quantity cap" in out.stdout
    assert "allowed: 0 < x < 1" in out.stdout
    assert "smoke: 800" in out.stdout


def test_metrics_json_and_pages_carry_the_run_manifest_and_cell_seconds(project):
    slow = project / "notebooks" / "03_slow.ipynb"
    _notebook(slow, "import time; time.sleep(0.7)")
    final, results = runner.run(
        ["03"], profile="smoke", overrides={"SEED": 7}, run_name="m", progress=False
    )
    summary = json.loads((final / "metrics.json").read_text())
    manifest = summary["manifest"]
    assert manifest["run"] == "m" and manifest["profile"] == "smoke"
    assert manifest["engine"] == "duckdb" and manifest["cache"] is True
    assert manifest["versions"]["python"] == sys.version.split()[0]
    assert {"numpy", "pandas", "papermill"} <= set(manifest["versions"])
    cells = summary["notebooks"]["03_slow"]["cells"]  # code cell 2 is the injected one
    assert [c[0] for c in cells] == [3] and cells[0][1] >= 0.7 and "time.sleep" in cells[0][2]
    html = (final / "03_slow.html").read_text()
    assert "ecom-manifest" in html and "profile smoke" in html and "engine duckdb" in html
    # the page says what this notebook ran with: the profile's and -p's parameters
    assert "parameters SEED=7, PROFILE=smoke" in html


def test_page_names_the_data_source_its_notebook_read(project):
    """A notebook whose own DATA default differs from the run's source (notebook 06 reads
    CDNOW) names that source at its foot, not the run's."""
    _notebook(
        project / "notebooks" / "04_other.ipynb",
        "print(DATA)",
        params='PROFILE = "default"\nDATA = "some-other-shop"\n',
    )
    final, _ = runner.run(["01", "04"], profile="smoke", run_name="d", progress=False)
    assert "data some-other-shop" in (final / "04_other.html").read_text()
    assert "data completejourney" in (final / "01_ok.html").read_text()


def test_manifest_footer_lists_parameters_compactly():
    footer = runner._footer_html(
        {
            "run": "r",
            "profile": "smoke",
            "parameters": {
                "N": 3,
                "MODELS": ["AutoETS", "LightGBM"],
                "START": dt.date(2017, 1, 1),
                "NOTE": "a, b",
                "CUDA": False,
            },
        }
    )
    assert (
        "parameters N=3, MODELS=[AutoETS, LightGBM], START=2017-01-01, "
        "NOTE=&#x27;a, b&#x27;, CUDA=False" in footer
    )
    assert "parameters (notebook defaults)" in runner._footer_html({"parameters": {}})
    assert "parameters" not in runner._footer_html({"run": "r"})  # no notebook: no line


def test_resume_runs_only_what_did_not_finish(project):
    with pytest.raises(runner.NotebookFailed, match="ecom run --resume failed-r"):
        runner.run(["01", "02"], profile="smoke", run_name="r", progress=False)
    reports = project / "reports"
    first = (reports / "failed-r" / "01_ok.html").read_bytes()
    # fix the cause, then finish the run: 01 is kept as it was, 02 runs
    _notebook(project / "notebooks" / "02_boom.ipynb", "print('fixed')")
    final, results = runner.run(resume="failed-r", progress=False)
    assert final == reports / "r" and not (reports / "failed-r").exists()
    assert (final / "01_ok.html").read_bytes() == first
    info = json.loads((final / "metrics.json").read_text())
    assert {k: v["status"] for k, v in info["notebooks"].items()} == {
        "01_ok": "ok",
        "02_boom": "ok",
    }
    assert info["notebooks"]["01_ok"]["parameters"] == {"N": 5, "PROFILE": "smoke"}
    with pytest.raises(ParameterError, match="no failed or interrupted run"):
        runner.run(resume="r", progress=False)


def test_a_failure_marks_the_notebooks_it_kept_from_running(project):
    with pytest.raises(runner.NotebookFailed):
        runner.run(["02", "01"], profile="smoke", run_name="f", progress=False)
    info = json.loads((project / "reports" / "failed-f" / "metrics.json").read_text())
    assert info["notebooks"]["01_ok"]["status"] == "not run"


def test_engine_and_cache_options_are_checked_and_reach_the_kernel(project, monkeypatch):
    with pytest.raises(ParameterError, match="--engine 'sqlite': use one of duckdb, spark"):
        runner.run(["01"], profile="smoke", engine="sqlite", progress=False)
    with pytest.raises(ParameterError, match="-p CACHE 'maybe'"):
        runner.run(["01"], profile="smoke", overrides={"CACHE": "maybe"}, progress=False)
    env = project / "notebooks" / "04_env.ipynb"
    _notebook(
        env,
        "import os\nfrom ecomlib.report import record\n"
        "record('engine', os.environ['ECOM_ENGINE'])\nrecord('cache', os.environ['ECOM_CACHE'])",
    )
    _, results = runner.run(["04"], profile="smoke", overrides={"CACHE": "no"}, progress=False)
    assert results[0].metrics == {"engine": "duckdb", "cache": "0"}
    assert "ECOM_CACHE" not in os.environ or os.environ["ECOM_CACHE"] != "0"


def test_jobs_run_notebooks_in_parallel_kernels(project):
    """Two notebooks with --jobs 2 run at the same time: each records when its cell started
    and ended, and the two spans overlap (one after the other they could not)."""
    body = (
        "import time\nfrom ecomlib.report import record\n"
        "record('t0', time.time())\ntime.sleep(6)\nrecord('t1', time.time())"
    )
    for i in (3, 4):
        _notebook(project / "notebooks" / f"0{i}_nap.ipynb", body)
    final, results = runner.run(["03", "04"], profile="smoke", jobs=2, progress=False)
    assert sorted(r.name for r in results) == ["03_nap", "04_nap"]
    assert all(r.status == "ok" for r in results)
    assert {p.name for p in final.glob("*.html")} == {"03_nap.html", "04_nap.html"}
    spans = [(r.metrics["t0"], r.metrics["t1"]) for r in results]
    assert max(t0 for t0, _ in spans) < min(t1 for _, t1 in spans)


def test_concurrent_runs_write_the_index_each_through_its_own_temporary_file(tmp_path):
    """Two `ecom run`s into one reports folder both rewrite index.html: a shared temporary
    name made one of them fail in os.replace (seen with two runs into one --out)."""
    from concurrent.futures import ThreadPoolExecutor

    from ecomlib.report.index import write_index

    with ThreadPoolExecutor(8) as pool:
        written = list(pool.map(lambda _: write_index(tmp_path), range(40)))
    assert all(p == tmp_path / "index.html" for p in written)
    assert [p.name for p in tmp_path.iterdir()] == ["index.html"]  # no temporary file left
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "index.html").stat().st_mode & 0o777 == 0o666 & ~mask
