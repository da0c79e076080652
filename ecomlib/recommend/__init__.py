"""Recommenders: interactions, splits, models and ranking metrics (notebook 05).

>>> from ecomlib import recommend as rec
>>> frame = rec.movielens_100k()
>>> train, test = rec.per_user_random_split(frame, 0.75, seed=42)
>>> model = rec.EASE(lam=500).fit(train)
>>> recs = model.recommend(test["user_id"].unique(), k=10)
>>> rec.ranking_metrics(recs, test, k=10)["ndcg@10"]
"""

from ecomlib.recommend.baskets import basket_rules, recommendations_table
from ecomlib.recommend.content import ContentBased, text_embeddings
from ecomlib.recommend.evaluate import (
    evaluate_models,
    fit_and_evaluate,
    grid_search,
    model_zoo,
    peak_rss_mb,
    shop_capabilities,
)
from ecomlib.recommend.explore import explain, interaction_summary, popularity_curve, repeat_rates
from ecomlib.recommend.interactions import (
    Interactions,
    canonical,
    complete_journey,
    movielens_100k,
    orders,
    product_groups,
    product_texts,
    read_interactions,
)
from ecomlib.recommend.metrics import (
    bootstrap_ci,
    coverage,
    new_items_only,
    novelty,
    paired_differences,
    per_user_metrics,
    ranking_metrics,
)
from ecomlib.recommend.models import (
    ALS,
    EASE,
    Blend,
    BuyAgain,
    ItemKNN,
    NotFittedError,
    Popularity,
    Recommender,
    RP3beta,
    normalise_rows,
)
from ecomlib.recommend.neural import GRUSequence, TwoTower
from ecomlib.recommend.newitems import NewItemScorer
from ecomlib.recommend.ranker import TIFUKNN, NextBasketRanker
from ecomlib.recommend.signals import PlannedSignals, StoreSales, week_of
from ecomlib.recommend.spark import SparkALS, spark_basket_rules
from ecomlib.recommend.splits import (
    common_users,
    per_user_random_split,
    temporal_split,
    validation_frames,
)

__all__ = [
    "ALS",
    "basket_rules",
    "Blend",
    "bootstrap_ci",
    "BuyAgain",
    "canonical",
    "common_users",
    "complete_journey",
    "ContentBased",
    "coverage",
    "EASE",
    "evaluate_models",
    "fit_and_evaluate",
    "SparkALS",
    "spark_basket_rules",
    "explain",
    "grid_search",
    "GRUSequence",
    "interaction_summary",
    "Interactions",
    "ItemKNN",
    "model_zoo",
    "movielens_100k",
    "new_items_only",
    "normalise_rows",
    "orders",
    "NewItemScorer",
    "NextBasketRanker",
    "NotFittedError",
    "novelty",
    "paired_differences",
    "peak_rss_mb",
    "per_user_metrics",
    "per_user_random_split",
    "PlannedSignals",
    "StoreSales",
    "Popularity",
    "popularity_curve",
    "product_groups",
    "product_texts",
    "ranking_metrics",
    "read_interactions",
    "recommendations_table",
    "recommend as rec",
    "Recommender",
    "repeat_rates",
    "RP3beta",
    "shop_capabilities",
    "temporal_split",
    "text_embeddings",
    "TIFUKNN",
    "TwoTower",
    "validation_frames",
    "week_of",
]
