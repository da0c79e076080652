"""Fit-and-score a set of models the same way and collect a leaderboard."""

from __future__ import annotations

import itertools
import logging
import resource
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ecomlib.config import progress
from ecomlib.errors import ParameterError
from ecomlib.recommend.interactions import Interactions
from ecomlib.recommend.metrics import (
    bootstrap_ci,
    coverage,
    novelty,
    per_user_metrics,
    ranking_metrics,
    summarise,
)
from ecomlib.recommend.models import Recommender

log = logging.getLogger(__name__)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux ``ru_maxrss``)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class PeakMemory:
    """Peak growth of this process's resident memory, in MB, between :meth:`start` and
    :meth:`stop`, sampled every ``interval`` seconds by a background thread.

    Native allocations (LightGBM, torch) count too; a spike shorter than the interval can be
    missed. Cheaper than ``tracemalloc``, which slowed the recommender fits by a quarter.
    """

    def __init__(self, interval: float = 0.01):
        import psutil

        self.interval, self._process = interval, psutil.Process()

    def _rss(self) -> int:
        return self._process.memory_info().rss

    def start(self) -> PeakMemory:
        self._base = self._peak = self._rss()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._done.wait(self.interval):
            self._peak = max(self._peak, self._rss())

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        self._peak = max(self._peak, self._rss())
        return (self._peak - self._base) / 2**20


def evaluate_models(
    models: Mapping[str, Recommender],
    train: Interactions,
    test: pd.DataFrame,
    k: int = 10,
    exclude_seen: bool = True,
    recall_denominator: str = "relevant",
    extra_tests: Mapping[str, tuple[pd.DataFrame, bool]] | None = None,
    trace_memory: bool = False,
    ci: float | None = None,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Fit every model on ``train`` and score its top-``k`` lists against ``test``.

    Parameters
    ----------
    models : name -> unfitted model.
    train : training interactions.
    test : relevant ``user_id, item_id`` rows; lists are made for its users.
    exclude_seen : passed to ``recommend`` for the main metrics.
    recall_denominator : see :func:`ranking_metrics`.
    extra_tests : name -> (test frame, exclude_seen): more metrics, e.g. new-item recall,
        reported as ``<name> recall@k`` and ``<name> ndcg@k``.
    trace_memory : record ``peak_mb``, the peak growth of this process's resident memory
        while each model fits, recommends and is scored (:class:`PeakMemory`).
    ci : e.g. 0.95: add a household (user) bootstrap interval of recall@k and NDCG@k (and of
        each extra test's recall@k) as ``<metric> low`` / ``<metric> high`` columns
        (:func:`~ecomlib.recommend.metrics.bootstrap_ci`; the same resamples for every model
        scored on the same users). None = no intervals.

    Returns
    -------
    leaderboard : one row per model (metrics, coverage, novelty, seconds, memory).
    recs : name -> the top-k DataFrame of the main evaluation.
    """
    users = test["user_id"].unique()
    rows, all_recs = [], {}
    train_frame = train.frame[["user_id", "item_id"]]
    for name, model in progress(models.items(), desc="models", total=len(models)):
        memory = PeakMemory().start() if trace_memory else None
        t0 = time.perf_counter()
        model.fit(train)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        recs = model.recommend(users, k=k, exclude_seen=exclude_seen)
        predict_s = time.perf_counter() - t0
        per_user = per_user_metrics(recs, test, k, recall_denominator)
        row = {"model": name, **summarise(per_user)}
        _add_ci(row, per_user, [f"recall@{k}", f"ndcg@{k}"], "", ci)
        for extra, (frame, excl) in (extra_tests or {}).items():
            extra_recs = model.recommend(frame["user_id"].unique(), k=k, exclude_seen=excl)
            m = per_user_metrics(extra_recs, frame, k, recall_denominator)
            row[f"{extra} recall@{k}"] = m[f"recall@{k}"].mean()
            row[f"{extra} ndcg@{k}"] = m[f"ndcg@{k}"].mean()
            _add_ci(row, m, [f"recall@{k}"], f"{extra} ", ci)
        if memory is not None:
            row["peak_mb"] = memory.stop()
        row["coverage"] = coverage(recs, train.n_items, k)
        row["novelty"] = novelty(recs, train_frame, k)
        row["fit_s"] = fit_s
        row["predict_s"] = predict_s
        rows.append(row)
        all_recs[name] = recs
        log.info("%s: %s", name, row)
    board = pd.DataFrame(rows).set_index("model")
    return board, all_recs


def _add_ci(row: dict, per_user: pd.DataFrame, metrics: list[str], prefix: str, ci) -> None:
    """``row[prefix + metric + " low" / " high"]``: bootstrap interval of each metric's mean."""
    if ci is None:
        return
    for metric in metrics:
        low, high = bootstrap_ci(per_user[metric].to_numpy(), level=ci)
        row[f"{prefix}{metric} low"], row[f"{prefix}{metric} high"] = low, high


def grid_search(
    make: Callable[..., Recommender],
    grid: Mapping[str, Sequence],
    train: pd.DataFrame,
    val: pd.DataFrame,
    k: int = 10,
    metric: str = "ndcg@10",
    exclude_seen: bool = True,
    recall_denominator: str = "relevant",
) -> tuple[dict, pd.DataFrame]:
    """Fit ``make(**params)`` on ``train`` for every combination of ``grid`` and score it on
    ``val`` (a validation split carved from the training data, never the test set).

    Returns
    -------
    best : the parameters with the highest ``metric`` on ``val``.
    table : one row per combination (parameters, ``metric``, ``map``), best first.
    """
    if not grid:
        raise ParameterError("grid_search needs at least one parameter to vary.")
    inter = Interactions(train)
    users = val["user_id"].unique()
    rows = []
    for values in itertools.product(*grid.values()):
        params = dict(zip(grid, values, strict=True))
        recs = make(**params).fit(inter).recommend(users, k=k, exclude_seen=exclude_seen)
        scores = ranking_metrics(recs, val, k, recall_denominator)
        if metric not in scores:
            raise ParameterError(f"metric must be one of {sorted(scores)}, got {metric!r}.")
        rows.append({**params, metric: scores[metric], "map": scores["map"]})
    table = pd.DataFrame(rows).sort_values(metric, ascending=False, kind="stable")
    best = {key: table.iloc[0][key] for key in grid}
    best = {key: (v.item() if hasattr(v, "item") else v) for key, v in best.items()}
    return best, table.reset_index(drop=True)


MOVIELENS_MODELS = ("popularity", "item_knn", "rp3beta", "als", "two_tower", "ease", "ease_tuned")
COMPLETE_JOURNEY_MODELS = (
    "popularity",
    "buy_again",
    "buy_again_decay",
    "item_knn",
    "ease",
    "tifu_knn",
    "ranker_emb",
    "new_items",
    "gru",
    "content",
    "hybrid",
)


def shop_capabilities(source=None) -> dict:
    """What a data source (a :class:`ecomlib.data.Source`, a connection or None: the bundled
    default) offers the shop models: ``promotions`` (a promotion plan and store ids),
    ``stores`` (store ids), ``discounts`` (retail or coupon discounts) and ``group_level``
    (``product_type``, else ``product_category``, else None)."""
    from ecomlib.recommend.interactions import connection

    with connection(source) as con:
        views = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }

        def filled(table: str, column: str) -> bool:
            if table not in views:
                return False
            cols = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
            if column not in cols:
                return False
            sql = f"SELECT count({column}) FROM (SELECT {column} FROM {table} LIMIT 100000)"
            return bool(con.execute(sql).fetchone()[0])

        stores = filled("transactions", "store_id")
        level = next(
            (c for c in ("product_type", "product_category") if filled("products", c)), None
        )
        return {
            "promotions": stores and "promotions" in views,
            "stores": stores,
            "discounts": filled("transactions", "retail_disc")
            or filled("transactions", "coupon_disc"),
            "group_level": level,
        }


def fit_and_evaluate(
    models: Mapping[str, Recommender], train: Interactions, test: pd.DataFrame, **kwargs
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], Mapping[str, Recommender]]:
    """:func:`evaluate_models` (same keyword arguments), also returning the models it fitted:
    one result holding everything a notebook uses afterwards, which ``ecomlib.cache.step`` can
    store and replay."""
    board, recs = evaluate_models(models, train, test, **kwargs)
    return board, recs, models


def _spark_als(factors: int, seed: int):
    """Spark MLlib's implicit ALS with the numpy ALS's settings; one factor block per core
    (Spark's default 10 blocks only slow a small fit on one machine)."""
    from ecomlib.data.engines import _cores
    from ecomlib.recommend.spark import SparkALS

    return SparkALS(factors=factors, reg=0.1, alpha=10, iterations=12, seed=seed, blocks=_cores())


def model_zoo(
    dataset: str,
    names=None,
    *,
    epochs: int = 10,
    gru_epochs: int = 3,
    max_items: int | None = 3000,
    gru_vocab: int = 2000,
    als_factors: int = 32,
    content: tuple | None = None,
    ease_params: Mapping | None = None,
    ranker_trees: int = 200,
    device: str = "auto",
    seed: int = 42,
    source=None,
) -> dict[str, Recommender]:
    """The notebook's models, configured for ``dataset``: "movielens" (ratings) or "shop"
    (a data source's purchases; "completejourney" is the same).

    Parameters
    ----------
    names : models to make (default :data:`MOVIELENS_MODELS` / :data:`COMPLETE_JOURNEY_MODELS`);
        ``"spark_als"`` on either dataset is Spark MLlib's implicit ALS (needs the Spark engine).
    epochs, gru_epochs : training epochs of the two-tower and GRU models.
    max_items : catalogue of the dense/blocked item-item models on Complete Journey.
    content : ``(item_ids, vectors)`` of product text embeddings (needed by "content",
        "hybrid" and "ranker_emb").
    ranker_trees : half the LightGBM trees of each of "ranker_emb"'s two classifiers (it uses
        twice as many at learning rate 0.03).
    ease_params : EASE parameters of "ease_tuned" on MovieLens (e.g. chosen by
        :func:`grid_search` on a validation split); default lam 2000, weight_power 0.5,
        pop_exponent -0.1.
    source : the shop's data source (:class:`ecomlib.data.Source`, a DuckDB connection, or
        None: the bundled Complete Journey). The ranker uses what it has: the promotion plan
        (a ``promotions`` table and store ids), store sales (store ids), discounts, and
        product types or categories.
    """
    if dataset == "movielens":
        factories = _movielens_factories(epochs, als_factors, ease_params, device, seed)
        default = MOVIELENS_MODELS
    elif dataset in ("shop", "completejourney"):
        shop = _ShopData(source, shop_capabilities(source), content)
        factories = _shop_factories(
            shop, gru_epochs, gru_vocab, max_items, als_factors, ranker_trees, device, seed
        )
        default = COMPLETE_JOURNEY_MODELS
    else:
        raise ParameterError(f"dataset must be 'movielens' or 'shop', got {dataset!r}.")
    # the notebook's models by default; spark_als only when asked for (it needs Spark)
    names = list(default if names is None else names)
    unknown = [n for n in names if n not in factories]
    if unknown:
        raise ParameterError(
            f"Unknown model(s) {unknown} for {dataset}; choose from {list(factories)}."
        )
    return {n: factories[n]() for n in names}


def _movielens_factories(
    epochs: int, als_factors: int, ease_params: Mapping | None, device: str, seed: int
) -> dict[str, Callable[[], Recommender]]:
    """name -> builder of :func:`model_zoo`'s MovieLens (ratings) models."""
    from ecomlib.recommend.models import ALS, EASE, ItemKNN, Popularity, RP3beta
    from ecomlib.recommend.neural import TwoTower

    return {
        "popularity": lambda: Popularity(),
        "item_knn": lambda: ItemKNN(neighbours=100, shrink=10),
        "rp3beta": lambda: RP3beta(alpha=0.8, beta=0.5, neighbours=200),
        "als": lambda: ALS(factors=als_factors, reg=0.1, alpha=10, iterations=12, seed=seed),
        "spark_als": lambda: _spark_als(als_factors, seed),
        "two_tower": lambda: TwoTower(epochs=epochs, device=device, seed=seed),
        "ease": lambda: EASE(lam=500),
        "ease_tuned": lambda: EASE(
            **(ease_params or {"lam": 2000, "weight_power": 0.5, "pop_exponent": -0.1})
        ),
    }


@dataclass(frozen=True)
class _ShopData:
    """What the shop models read besides the purchases: the data source's promotion plan,
    store sales, discounts and product groups as far as it offers them (``caps``, from
    :func:`shop_capabilities`; a method gives None for what it lacks), and the product text
    embeddings ``content``. Every call builds a fresh object."""

    source: Any
    caps: dict
    content: tuple | None

    def signals(self):
        from ecomlib.recommend.signals import PlannedSignals

        return PlannedSignals(self.source) if self.caps["promotions"] else None

    def stores(self):
        from ecomlib.recommend.signals import StoreSales

        return StoreSales(self.source) if self.caps["stores"] else None

    def details(self):
        from ecomlib.recommend.signals import PurchaseDetails

        return PurchaseDetails(self.source) if self.caps["discounts"] else None

    def groups(self):
        from ecomlib.recommend.interactions import product_groups

        level = self.caps["group_level"]
        return product_groups(self.source, level=level) if level else None

    def vectors(self) -> tuple:
        if self.content is None:
            raise ParameterError(
                "'content', 'hybrid' and 'ranker_emb' need content=(item_ids, vectors)."
            )
        return tuple(self.content)

    def content_model(self):
        from ecomlib.recommend.content import ContentBased

        return ContentBased(*self.vectors(), half_life_days=60)


def _ranker_emb(shop: _ShopData, max_items: int | None, ranker_trees: int, seed: int):
    """The learned next-basket ranker (NextBasketRanker): the promotion plan, how the household
    buys each product, what sold lately at its stores, repurchase cycles, product types and
    text-embedding similarity; its classifiers see no per-user features; settings chosen on
    validation windows (docs/benchmarks.md)."""
    from ecomlib.recommend.ranker import NextBasketRanker

    # one LightGBM thread: small data, and threads thrash on a shared 2-core machine
    return NextBasketRanker(
        window_days=28,
        n_windows=2,
        max_items=min(max_items or 3000, 3000),  # three EASE fits: keep each small
        n_estimators=2 * ranker_trees,
        learning_rate=0.03,
        min_child_samples=200,
        reg_lambda=10.0,
        seed=seed,
        n_jobs=1,
        signals=shop.signals(),
        details=shop.details(),
        stores=shop.stores(),
        cycle=True,
        item_groups=shop.groups(),
        user_features=(),
        embeddings=shop.vectors(),
    )


def _shop_factories(
    shop: _ShopData,
    gru_epochs: int,
    gru_vocab: int,
    max_items: int | None,
    als_factors: int,
    ranker_trees: int,
    device: str,
    seed: int,
) -> dict[str, Callable[[], Recommender]]:
    """name -> builder of :func:`model_zoo`'s shop (purchases) models."""
    from ecomlib.recommend.models import EASE, Blend, BuyAgain, ItemKNN, Popularity
    from ecomlib.recommend.neural import GRUSequence
    from ecomlib.recommend.newitems import NewItemScorer
    from ecomlib.recommend.ranker import TIFUKNN

    return {
        "popularity": lambda: Popularity(),
        "buy_again": lambda: BuyAgain(),
        "buy_again_decay": lambda: BuyAgain(half_life_days=60, repeat_exponent=0.5),
        "item_knn": lambda: ItemKNN(neighbours=100, shrink=10, max_items=max_items),
        "ease": lambda: EASE(lam=500, max_items=max_items),
        # parameters chosen on a validation window (the 28 days before the test window)
        "tifu_knn": lambda: TIFUKNN(
            group_size=7, within_decay=1.0, group_decay=0.8, neighbours=300, alpha=0.9
        ),
        "ranker_emb": lambda: _ranker_emb(shop, max_items, ranker_trees, seed),
        # never-bought products: recent popularity x planned promotion at the household's
        # stores + EASE (weights chosen on the validation window)
        "new_items": lambda: NewItemScorer(
            recent_days=28,
            promo_weight=1.0 if shop.caps["promotions"] else 0.0,
            signals=shop.signals(),
            ease_weight=2.0,
            max_items=min(max_items or 3000, 3000),
        ),
        "gru": lambda: GRUSequence(
            epochs=gru_epochs, vocab_size=gru_vocab, max_baskets=24, device=device, seed=seed
        ),
        "spark_als": lambda: _spark_als(als_factors, seed),
        "content": shop.content_model,
        "hybrid": lambda: Blend(
            [
                BuyAgain(half_life_days=60, repeat_exponent=0.5),
                EASE(lam=500, max_items=max_items),
                shop.content_model(),
            ],
            [1.0, 0.1, 0.02],
        ),
    }
