"""Notebook 03 at the smoke profile: the CNN must learn, evaluate, explain and compress."""

from __future__ import annotations

import pytest


@pytest.mark.notebook
@pytest.mark.xdist_group("nb_03")
def test_product_image_cnn_smoke(run_notebook):
    m = run_notebook("03_product_image_cnn")
    # A broken model (random, constant or mislabelled) stays near 0.10.
    assert m["test_accuracy"] >= 0.75
    assert m["test_macro_f1"] >= 0.70
    assert m["seed_cnn"]["test_accuracy"] >= 0.6
    assert len(m["per_class_f1"]) == 10
    assert m["train_images_per_second"] > 0
    assert 1 <= m["epochs_run"] and 1 <= m["best_epoch"] <= m["epochs_run"]
    # The int8 model is smaller and keeps most of the accuracy.
    assert m["int8_static_size_ratio"] < 0.5
    assert m["int8_static_accuracy"] >= m["test_accuracy"] - 0.05
    assert m["reload_matches"] is True
