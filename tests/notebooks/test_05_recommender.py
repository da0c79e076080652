"""Notebook 05 at the smoke profile: the best models must beat popularity on both protocols."""

from __future__ import annotations

import json

import pytest


@pytest.mark.notebook
@pytest.mark.xdist_group("nb_05")
def test_05_recommender_smoke(run_notebook):
    m = run_notebook("05")
    # R1 MovieLens-100K: a working CF model roughly doubles popularity's NDCG@10
    assert m["r1_best_ndcg10"] > m["r1_popularity_ndcg10"] + 0.15
    assert m["r1_best_ndcg10"] >= 0.45
    assert m["r1_best_map"] >= 0.13
    assert set(m["r1_leaderboard"]) >= {"popularity", "ease", "two_tower"}
    assert m["r1_leaderboard"]["two_tower"]["ndcg@10"] > m["r1_popularity_ndcg10"]
    # R2 Complete Journey: re-buying models far above popularity; new items above popularity
    assert m["r2_best_recall10"] > m["r2_popularity_recall10"] + 0.15
    assert m["r2_best_recall10"] >= 0.33
    assert m["r2_best_new_item_recall10"] > m["r2_popularity_new_item_recall10"]
    assert m["r2_leaderboard"]["gru"]["recall@10"] > 0.05
    # next-basket models: TIFU-KNN and the learned ranker (purchase details, store sales,
    # repurchase cycles, product types, text embeddings) re-buy like buy-again, and the ranker's
    # never-bought list beats popularity's
    board = m["r2_leaderboard"]
    for name in ("tifu_knn", "ranker_emb"):
        assert board[name]["recall@10"] > m["r2_popularity_recall10"] + 0.15, name
    assert board["ranker_emb"]["recall@10"] >= board["buy_again_decay"]["recall@10"] - 0.02
    assert board["ranker_emb"]["new-item recall@10"] > m["r2_popularity_new_item_recall10"]
    # the first-purchase scorer (recent popularity x planned promotion + EASE) beats popularity
    # on first purchases
    assert board["new_items"]["new-item recall@10"] > m["r2_popularity_new_item_recall10"]
    # R1: EASE parameters were chosen on a validation split from the grid
    assert m["r1_ease_params"]["pop_exponent"] in (0.0, -0.1)
    assert m["r2_peak_rss_mb"] < 4096
    # cold start: text similarity finds more first-ever purchases than random picks
    assert m["cold_start_recall10"] > m["cold_start_random_recall10"]
    # basket rules and the exported lists of the refitted best model
    assert m["n_basket_rules"] > 10 and m["top_basket_rule_lift"] > 2
    assert m["recommendations_customers"] > 2000


@pytest.mark.notebook
@pytest.mark.xdist_group("nb_05")
def test_05_recommender_basket_rules_without_customers(run_notebook):
    # pizzaplace has no customer ids: no per-customer models, but basket rules from its orders
    m = run_notebook("05", DATASETS=["shop"], DATA="pizzaplace")
    assert "r2_best_recall10" not in m and "recommendations_customers" not in m
    assert m["n_basket_rules"] > 10
    assert m["top_basket_rule_lift"] > 1.5


@pytest.mark.notebook
@pytest.mark.xdist_group("nb_05")
def test_05_recommender_spark_models_on_spark(run_notebook, monkeypatch, tmp_path):
    """`ecom run 05 --engine spark -p SPARK_MODELS True` at the smoke profile, kept small
    (MovieLens with popularity, pizzaplace's baskets: ~65 s on Spark, ~13 s on DuckDB): Spark
    MLlib's ALS is a row of the MovieLens leaderboard, FP-growth mines the basket rules, and
    what does not depend on the engine equals the DuckDB run's."""
    from ecomlib.data.engines import available_engines

    if available_engines()["spark"]:
        pytest.skip(available_engines()["spark"])
    monkeypatch.setenv("ECOM_CACHE", "0")  # fit on Spark, not a replay from the step cache
    params = {"DATA": "pizzaplace", "ML_MODELS": ["popularity"]}
    monkeypatch.setenv("ECOM_ENGINE", "duckdb")
    on_duckdb = run_notebook("05", SPARK_MODELS=False, **params)
    monkeypatch.setenv("ECOM_ENGINE", "spark")
    on_spark = run_notebook("05", SPARK_MODELS=True, **params)
    cells = json.loads((tmp_path / "05_recommender" / "05_recommender.ipynb").read_text())["cells"]
    printed = "".join(
        "".join(out.get("text", "")) for cell in cells for out in cell.get("outputs", [])
    )
    assert "engine: spark" in printed and "Spark MLlib ALS is left out" not in printed
    assert "spark_als" not in on_duckdb["r1_leaderboard"]

    # ALS (implicit feedback, MLlib) well above popularity on MovieLens-100K
    als = on_spark["r1_leaderboard"]["spark_als"]
    assert 0.3 < als["ndcg@10"] < 0.6 and 0.08 < als["map"] < 0.3
    assert als["ndcg@10"] > on_spark["r1_popularity_ndcg10"] + 0.1
    assert 0 < als["precision@10"] <= 1 and 0 < als["recall@10"] <= 1 and als["fit_s"] > 0
    assert on_spark["r1_best_model"] == "spark_als"
    assert (
        on_spark["movielens_coverage"]["spark_als"] > on_spark["movielens_coverage"]["popularity"]
    )
    # FP-growth rules: the same rules as DuckDB's SQL (same thresholds, same numbers)
    assert on_spark["n_basket_rules"] == on_duckdb["n_basket_rules"] > 10
    assert on_spark["top_basket_rule_lift"] == on_duckdb["top_basket_rule_lift"] > 1.5
    # the popularity row does not depend on the engine
    assert on_spark["r1_popularity_ndcg10"] == on_duckdb["r1_popularity_ndcg10"]
    pop_spark, pop_duckdb = (
        {k: v for k, v in m["r1_leaderboard"]["popularity"].items() if k != "fit_s"}
        for m in (on_spark, on_duckdb)
    )
    assert pop_spark == pop_duckdb
    assert (
        on_spark["movielens_novelty"]["popularity"] == on_duckdb["movielens_novelty"]["popularity"]
    )
