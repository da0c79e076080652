"""Papermill smoke run of notebook 06 (the CDNOW 1/10 sample): the recorded leaderboard must
make sense."""

from __future__ import annotations

import math

import pytest


@pytest.mark.notebook
@pytest.mark.xdist_group("nb_06")
def test_06_customer_lifetime_value_smoke(run_notebook):
    metrics = run_notebook("06_customer_lifetime_value")
    mae = metrics["mae"]
    for name in ("rate", "zero", "BG/NBD", "Pareto/NBD", "LightGBM", "LightGBM-L1", "GRU"):
        assert name in mae and math.isfinite(mae[name]), name
    assert metrics["n_customers"] == 2357
    # the sequence model beats the calibration rate carried forward
    assert mae["GRU"] < mae["rate"]
    # and it trained (it starts at BG/NBD): several epochs, not one cut short by its budget
    assert metrics["gru_epochs_run"] >= 3 and metrics["gru_steps_run"] > 10
    # the BG/NBD fit on the sample is the published one (r, alpha, a, b)
    bg = metrics["bgnbd_params"]
    assert bg["r"] == pytest.approx(0.243, rel=0.01) and bg["b"] == pytest.approx(2.426, rel=0.01)
    assert metrics["best_model"] in mae
    board = metrics["leaderboard"]
    # BG/NBD's total of holdout purchases is within 25% of the actual one
    assert board["BG/NBD"]["predicted"] == pytest.approx(board["BG/NBD"]["actual"], rel=0.25)
    assert 0.7 < metrics["churn_auc"] <= 1.0
    assert metrics["predictions_rows"] == 2357
    assert set(metrics["segments"]) <= {
        "high value, active",
        "high value, at risk",
        "low value, active",
        "low value, at risk",
    }


@pytest.mark.notebook
@pytest.mark.xdist_group("nb_06")
def test_06_on_the_complete_journey_households(run_notebook):
    """The default source's households: its year splits into 26 + 26 weeks by default, and
    every model runs on them."""
    metrics = run_notebook("06_customer_lifetime_value", DATA="")
    assert metrics["holdout_weeks"] == 26
    assert 2000 < metrics["n_customers"] <= 2469
    assert all(math.isfinite(v) for v in metrics["mae"].values())
    assert metrics["best_model"] in metrics["mae"]
