"""Unit tests for ecomlib.text.embeddings (bucketed batching, offline loading, embed order)."""

from __future__ import annotations

import numpy as np
import pytest

from ecomlib.text import embeddings as emb


def test_bucket_batches_is_a_permutation_grouped_by_length():
    lengths = [5, 1, 9, 3, 9, 2, 7]
    batches = emb.bucket_batches(lengths, batch_size=3)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    assert [len(b) for b in batches] == [3, 3, 1]
    # longest first, each batch holds similar lengths
    assert [lengths[i] for i in batches[0]] == [9, 9, 7]


def test_bucket_batches_rejects_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        emb.bucket_batches([1, 2], batch_size=0)


def test_pad_batch_masks_padding():
    ids, mask = emb.pad_batch([[101, 5, 102], [101, 102]], pad_id=0)
    assert ids.tolist() == [[101, 5, 102], [101, 102, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 1, 0]]


def test_mean_pool_ignores_padding():
    import torch

    hidden = torch.tensor([[[1.0, 1.0], [3.0, 3.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert emb.mean_pool(hidden, mask).tolist() == [[2.0, 2.0]]


def test_missing_model_dir_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        emb.embed_texts(["x"], model_dir=tmp_path)


def test_embed_texts_offline_order_and_norm(monkeypatch):
    # No network: make any hub download attempt fail loudly.
    import huggingface_hub

    def _no_network(*args, **kwargs):
        raise AssertionError("a hub download was attempted")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _no_network)
    texts = [
        "short",
        "a much longer review text about coffee beans and the taste " * 3,
        "medium length review",
        "short",
    ]
    together = emb.embed_texts(texts, batch_size=2, device="cpu")
    assert together.shape == (4, 384) and together.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    # bucketing must not change which output belongs to which input
    one_by_one = np.vstack([emb.embed_texts([t], device="cpu") for t in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-4)
    np.testing.assert_allclose(together[0], together[3], atol=1e-6)
    assert emb.embed_texts([], device="cpu").shape == (0, 384)


def test_embed_texts_refuses_a_single_string():
    with pytest.raises(TypeError):
        emb.embed_texts("not a list")
