"""Run a command in a subprocess and measure its wall seconds and peak resident memory
(psutil polling of the process tree every 10 ms)."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass


@dataclass
class Measured:
    """What :func:`run_measured` saw."""

    returncode: int
    seconds: float
    peak_bytes: int
    stdout: str
    stderr: str
    timed_out: bool = False


def run_measured(cmd: list[str], cwd=None, env=None, timeout: float | None = None) -> Measured:
    """Run ``cmd``; peak RSS is the largest sum over the process and its children.

    ``timeout``: seconds after which the process and its children are killed (``timed_out``)."""
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, env=env
    )
    ps = psutil.Process(proc.pid)
    peak = 0
    timed_out = False
    while proc.poll() is None:
        if timeout is not None and time.perf_counter() - t0 > timeout:
            timed_out = True
            for p in [*ps.children(recursive=True), ps]:
                try:
                    p.kill()
                except psutil.Error:
                    pass
            break
        try:
            rss = ps.memory_info().rss + sum(
                c.memory_info().rss for c in ps.children(recursive=True)
            )
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.01)
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - t0
    return Measured(proc.returncode, seconds, peak, stdout, stderr, timed_out)
