"""Notebook 04 (review NLP) at the smoke profile: the fine-tuned transformer must clearly beat
the majority class, the baselines must be in their known ranges, and the save/load and
int8 paths must work."""

from __future__ import annotations

import pytest


@pytest.mark.notebook
@pytest.mark.xdist_group("nb_04")
def test_04_review_nlp_smoke(run_notebook):
    m = run_notebook("04_review_nlp", profile="smoke")

    # the data is the known sample; the majority class is the bar to beat
    assert m["n_train"] > 0 and m["n_test"] > 0
    majority = m["majority_accuracy"]
    assert 0.6 < majority < 0.72
    assert 40 < m["median_tokens"] < 100
    assert 0.1 < m["share_with_html"] < 0.5

    # TF-IDF baseline learns from a small sample too
    assert m["tfidf_roc_auc"] > 0.72

    # the fine-tuned transformer beats "always great" by a clear margin
    assert m["finetune_accuracy"] >= majority + 0.05
    assert m["finetune_roc_auc"] > 0.75
    assert m["finetune_epochs_run"] >= 1

    # frozen embeddings carry signal (better than chance ranking)
    assert m["frozen_roc_auc"] > 0.6

    # compression and persistence paths
    assert m["save_load_identical"] is True
    assert m["int8_accuracy"] >= majority
    assert m["throughput_reviews_per_s"] > 0 and m["int8_throughput_reviews_per_s"] > 0

    # calibration and search produce sane values
    assert 0 <= m["finetune_ece"] < 0.3
    assert 0.2 < m["search_top_similarity"] <= 1.0
    assert set(m["comparison"]) >= {"TF-IDF + LR", "fine-tuned MiniLM"}

    # the explanations are faithful: removing the most-credited words moves the prediction
    # more than removing random ones (gradient x input, the old method, failed this)
    check = m["explanation_deletion_check"]
    assert check["texts"] == 10
    assert check["top_k_fall"] > 2 * max(check["random_k_fall"], 0.05)
