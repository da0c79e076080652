"""Spark MLlib models: implicit ALS as a recommender, FP-growth rules equal to DuckDB's.

The session-scoped Spark ``local[1]`` fixture of tests/conftest.py; the
tests skip when pyspark or Java is missing (``make setup`` installs both).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from ecomlib.data.engines import available_engines
from ecomlib.recommend.baskets import basket_rules
from ecomlib.recommend.metrics import ranking_metrics
from ecomlib.recommend.models import Popularity
from ecomlib.recommend.splits import per_user_random_split

SPARK_MISSING = available_engines()["spark"]
needs_spark = pytest.mark.skipif(SPARK_MISSING is not None, reason=str(SPARK_MISSING))


def test_module_imports_without_pyspark():
    """pyspark is imported inside the functions only, never at module level (so ecomlib
    imports without it); a static check, as pandera may already have imported pyspark here."""
    import ast

    import ecomlib.recommend.spark as module

    tree = ast.parse(open(module.__file__, encoding="utf-8").read())
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    names = [a.name for n in top if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in top if isinstance(n, ast.ImportFrom)]
    assert names and not [m for m in names if m.split(".")[0] in ("pyspark", "py4j")], names
    assert module.SparkALS and module.spark_basket_rules


def _two_tastes(seed: int = 0) -> pd.DataFrame:
    """Users 0-29 buy from items 0-11, users 30-59 from items 12-23; item popularity is
    skewed so that the overall most popular items mix both groups."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(60):
        lo = 0 if u < 30 else 12
        p = np.linspace(2.0, 1.0, 12) if u < 30 else np.linspace(1.0, 2.0, 12)
        items = rng.choice(np.arange(lo, lo + 12), size=7, replace=False, p=p / p.sum())
        rows += [(u, int(i)) for i in items]
    return pd.DataFrame(rows, columns=["user_id", "item_id"])


@needs_spark
def test_spark_als_recommends_the_users_own_taste(spark):
    from ecomlib.recommend.spark import SparkALS

    train, test = per_user_random_split(_two_tastes(), 0.7, seed=1)
    model = SparkALS(factors=4, reg=0.05, alpha=10.0, iterations=5, blocks=1, spark=spark)
    model.fit(train)
    assert model.user_factors_.shape == (60, 4) and model.item_factors_.shape == (24, 4)
    assert np.abs(model.user_factors_).sum(axis=1).min() > 0  # every user has factors
    users = test["user_id"].unique()
    recs = model.recommend(users, k=3)
    own = (recs["item_id"] < 12) == (recs["user_id"] < 30)
    assert own.mean() > 0.95, own.mean()
    seen = set(zip(train["user_id"], train["item_id"], strict=True))
    assert not any(p in seen for p in zip(recs["user_id"], recs["item_id"], strict=True))
    als = ranking_metrics(recs, test, k=3)["recall@3"]
    pop = ranking_metrics(Popularity().fit(train).recommend(users, k=3), test, k=3)["recall@3"]
    assert als > pop + 0.1, (als, pop)


def _lines(seed: int = 0) -> pd.DataFrame:
    """Order lines: pairs (0, 1) and (2, 3) often together, singles, and bulk orders that
    ``max_basket_lines`` leaves out of the pair counts but not out of the denominators."""
    rng = np.random.default_rng(seed)
    rows = []
    for b in range(300):
        kind = b % 10
        if kind == 0:
            items = [int(rng.integers(0, 12))]  # single-product basket
        elif kind == 1 and b < 60:
            items = list(range(12))  # bulk order: 12 products
        else:
            items = list(rng.choice(np.arange(4, 12), size=int(rng.integers(1, 4)), replace=False))
            if kind in (2, 3, 4, 5):
                items += [0, 1]
            elif kind in (6, 7):
                items += [2, 3]
        rows += [(b, int(i)) for i in items]
        if kind == 9:
            rows.append((b, int(items[0])))  # a repeated line counts once
    rows.append((None, 5))  # lines without a basket or product are ignored
    rows.append((7, None))
    frame = pd.DataFrame(rows, columns=["basket_id", "product_id"])
    return frame.astype({"basket_id": "Int64", "product_id": "Int64"})


def _duck_rules(lines: pd.DataFrame, **kw) -> pd.DataFrame:
    con = duckdb.connect()
    con.register("_lines", lines)
    con.execute("CREATE VIEW transactions AS SELECT * FROM _lines")
    return basket_rules(con, **kw)


@needs_spark
@pytest.mark.parametrize(
    ("kw", "given"),
    [
        ({"min_baskets": 5, "min_lift": 0.0, "max_basket_lines": 6, "top": None}, "spark"),
        ({}, "pandas"),  # the defaults (min_baskets 20, lift >= 1, 50 lines, top 200)
        ({"min_baskets": 3, "min_lift": 1.2, "max_basket_lines": 6, "top": 7}, "spark"),
    ],
)
def test_fpgrowth_rules_equal_duckdb_rules(spark, kw, given):
    from ecomlib.recommend.spark import spark_basket_rules

    lines = _lines()
    duck = _duck_rules(lines, **kw)
    if given == "spark":
        spk = spark_basket_rules(spark.createDataFrame(lines), **kw)
    else:
        spk = spark_basket_rules(lines, spark=spark, **kw)
    assert len(duck) > 3 and list(spk.columns) == list(duck.columns)
    assert spk[["antecedent", "consequent"]].astype("int64").values.tolist() == (
        duck[["antecedent", "consequent"]].astype("int64").values.tolist()
    )
    assert (spk["baskets"].to_numpy() == duck["baskets"].to_numpy()).all()
    for col in ("support", "confidence", "lift"):
        np.testing.assert_allclose(spk[col], duck[col], rtol=1e-9, atol=0)
    if kw.get("min_lift") == 0.0:  # both directions of every kept pair
        assert {(a, c) for a, c in zip(duck["consequent"], duck["antecedent"], strict=True)} == {
            (a, c) for a, c in zip(duck["antecedent"], duck["consequent"], strict=True)
        }
    if given == "pandas":  # no pair in enough baskets: an empty frame with the same columns
        none = spark_basket_rules(lines, min_baskets=10_000, spark=spark)
        assert none.empty and list(none.columns) == list(duck.columns)
