"""Product-image benchmark (docs/protocols.md, "Product images"): writes
``reports/bench/vision.md``.

Protocol: Fashion-MNIST, official 60k/10k split. The models and settings of notebook 03's
``full`` profile (CPU) — or its ``gpu`` profile when a CUDA GPU is present — are trained with
:func:`ecomlib.vision.train_classifier` (10 % of the training images held out for validation)
and scored once on the untouched test set: test accuracy, training seconds, training
throughput (images/s), and the process CPU time with the machine's load average (the shared
2-core machines here are often contended, which inflates wall-clock seconds). The trained
model is then quantized (int8 static and dynamic) and compared on file size, CPU latency per
image (one thread) and test accuracy.

The notebook's wall-clock guard (``MAX_TRAIN_SECONDS``) is off here, so that the accuracy of
the designed schedule is measured even when other processes slow the machine down.

Targets: ``full`` on 2 cores >= 0.92 test accuracy within 5 min of training; ``gpu`` on one
H200 >= 0.955 within 60 s.

Run: ``python -m benchmarks.run vision`` (or ``python -m benchmarks.vision [full|gpu]``).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "reports" / "bench" / "vision.md"
NOTEBOOK = "03_product_image_cnn"
TARGETS = {"full": (0.92, 300.0), "gpu": (0.955, 60.0)}
# Notebook defaults, overridden by the profile (kept in step with the parameters cell).
DEFAULTS = dict(
    TRAIN_SIZE=12000,
    IMAGE_SIZE=28,
    MODEL="resnet",
    WIDTH=16,
    EPOCHS=2,
    BATCH_SIZE=256,
    LR=0.004,
    WEIGHT_DECAY=0.0005,
    AUGMENT=False,
    ERASE=0.0,
    LABEL_SMOOTHING=0.0,
    MAX_TRAIN_SECONDS=240,
    SEED_CNN_EPOCHS=1,
    CALIBRATION_SIZE=512,
    LATENCY_REPEATS=50,
    SEED=42,
)


def _params(profile: str) -> dict:
    from ecomlib.report.runner import load_profile

    return {**DEFAULTS, **load_profile(profile, NOTEBOOK)}


def _train(
    arch: str, p: dict, x, y, classes, mean: float, std: float, epochs: int, device: str
) -> dict:
    from ecomlib import vision

    model = vision.ImageClassifier(
        arch,
        classes,
        image_size=p["IMAGE_SIZE"],
        mean=mean,
        std=std,
        **({"width": p["WIDTH"]} if arch == "resnet" else {}),
    )
    augment = (
        vision.Augment(flip=True, shift=2, erase=p["ERASE"])
        if p["AUGMENT"] and arch == "resnet"
        else None
    )
    cpu0, load0 = time.process_time(), os.getloadavg()[0]
    fit = vision.train_classifier(
        model,
        x,
        y,
        epochs=epochs,
        batch_size=p["BATCH_SIZE"],
        lr=p["LR"],
        weight_decay=p["WEIGHT_DECAY"],
        augment=augment,
        label_smoothing=p["LABEL_SMOOTHING"] if arch == "resnet" else 0.0,
        max_seconds=None,  # measure the designed schedule, even on a busy machine
        device=device,
        seed=p["SEED"],
        desc=arch,
    )
    return {
        "fit": fit,
        "cpu_seconds": time.process_time() - cpu0,
        "load": (load0 + os.getloadavg()[0]) / 2,
    }


def main(profile: str | None = None) -> Path:
    """Run the protocol and write ``reports/bench/vision.md``; returns its path."""
    import torch

    from ecomlib import vision
    from ecomlib.data import load_fashion_mnist

    gpu = torch.cuda.is_available()
    profile = profile or ("gpu" if gpu else "full")
    device = "cuda" if gpu else "cpu"
    p = _params(profile)
    x_tr, y_tr, x_te, y_te, classes = load_fashion_mnist()
    x_tr, y_tr = vision.subsample(x_tr, y_tr, p["TRAIN_SIZE"], seed=p["SEED"])
    mean, std = float(x_tr.mean() / 255), float(x_tr.std() / 255)

    rows = []
    runs = [("seed", p["SEED_CNN_EPOCHS"])] if p["SEED_CNN_EPOCHS"] else []
    runs.append((p["MODEL"], p["EPOCHS"]))
    main_fit = None
    for arch, epochs in runs:
        r = _train(arch, p, x_tr, y_tr, classes, mean, std, epochs, device)
        fit = r["fit"]
        acc = float((vision.predict_proba(fit.model, x_te, device=device).argmax(1) == y_te).mean())
        rows.append(
            {
                "model": f"{arch} CNN" + (f" (width {p['WIDTH']})" if arch == "resnet" else ""),
                "epochs": len(fit.history),
                "test_accuracy": acc,
                "train_s": fit.seconds,
                "images_per_s": fit.samples_per_second,
                "cpu_s": r["cpu_seconds"],
                "load": r["load"],
            }
        )
        main_fit = fit
    model = main_fit.model.cpu()
    table = vision.compression_table(
        {
            "float32": model,
            "int8 dynamic": vision.quantize_dynamic(model),
            "int8 static": vision.quantize_static(model, x_tr[: p["CALIBRATION_SIZE"]]),
        },
        x_te,
        y_te,
        image_size=p["IMAGE_SIZE"],
        latency_repeats=p["LATENCY_REPEATS"],
    )

    target_acc, target_s = TARGETS.get(profile, (float("nan"), float("nan")))
    main_row = rows[-1]
    met = main_row["test_accuracy"] >= target_acc and main_row["train_s"] <= target_s
    dev_name = torch.cuda.get_device_name(0) if gpu else f"CPU, {torch.get_num_threads()} threads"
    lines = [
        "# Product images: Fashion-MNIST CNN",
        "",
        f"Profile `{profile}` of notebook 03 on {dev_name}; {len(y_tr):,} training images "
        f"(10 % held out for validation), scored on the 10,000 test images. "
        f"Generated by `python -m benchmarks.vision` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "| model | epochs | test accuracy | training s | images/s | process CPU s | load avg |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['epochs']} | {r['test_accuracy']:.4f} | "
            f"{r['train_s']:.0f} | {r['images_per_s']:,.0f} | {r['cpu_s']:.0f} | "
            f"{r['load']:.1f} |"
        )
    lines += [
        "",
        f"Target ({profile}): test accuracy >= {target_acc} within {target_s:.0f} s of training: "
        f"**{'met' if met else 'not met'}** ({main_row['test_accuracy']:.4f} in "
        f"{main_row['train_s']:.0f} s). A load average above the core count means other "
        "processes shared the CPU and the wall-clock seconds are inflated.",
        "",
        "## Compression (CPU, latency on one thread)",
        "",
        "| model | size kB | ms/image (batch 1) | ms/image (batch 256) | test accuracy |",
        "|---|---|---|---|---|",
    ]
    for name, r in table.iterrows():
        lines.append(
            f"| {name} | {r['size_kb']:.0f} | {r['latency_ms_batch1']:.3f} | "
            f"{r['latency_ms_batch256']:.3f} | {r['accuracy']:.4f} |"
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return OUT


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
