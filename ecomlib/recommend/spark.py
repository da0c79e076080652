"""Two distributed models from Spark MLlib: implicit-feedback ALS and FP-growth basket rules.

* :class:`SparkALS` fits ``pyspark.ml.recommendation.ALS`` (``implicitPrefs=True``) on the
  user x item pairs of an :class:`~ecomlib.recommend.interactions.Interactions` object and
  keeps the two factor matrices as numpy arrays, so ``recommend`` scores locally like
  :class:`~ecomlib.recommend.models.ALS` and the model runs in ``evaluate_models`` /
  ``grid_search`` unchanged.
* :func:`spark_basket_rules` mines the pairs bought together with
  ``pyspark.ml.fpm.FPGrowth`` and returns the same frame as the DuckDB
  :func:`~ecomlib.recommend.baskets.basket_rules` (same thresholds, same numbers).

Sessions: both take a ``spark`` session; without one they call
:func:`ecomlib.data.engines.spark_session` (``ECOM_SPARK_MASTER``, else ``local[N]`` on this
machine's cores) when first needed. Neither ever stops a session: ``getOrCreate`` shares one
per process and it is costly to start, so its owner stops it.

pyspark is imported inside the functions only: this module imports without it.

>>> model = SparkALS(factors=32, reg=0.1, alpha=10).fit(train)
>>> recs = model.recommend(test["user_id"].unique(), k=10)
>>> rules = spark_basket_rules(connect("pizzaplace", engine="spark"), min_baskets=50)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecomlib.errors import ParameterError
from ecomlib.recommend.interactions import Interactions
from ecomlib.recommend.models import ALS

__all__ = ["SparkALS", "spark_basket_rules"]

RULE_COLUMNS = ["antecedent", "consequent", "baskets", "support", "confidence", "lift"]


def _session(spark):
    if spark is not None:
        return spark
    from ecomlib.data.engines import spark_session

    return spark_session()


class SparkALS(ALS):
    """Implicit-feedback ALS on Spark MLlib; scores locally from the learned factors.

    Parameters (named as in :class:`~ecomlib.recommend.models.ALS`, so a grid carries over)
    ----------
    factors : Spark's ``rank``.
    reg : Spark's ``regParam``. Spark scales it by each user's / item's number of
        interactions (ALS-WR), so the numpy ALS's best ``reg`` is not this one's.
    alpha : confidence ``1 + alpha * r`` of an observed pair.
    iterations : Spark's ``maxIter``.
    seed : Spark's ``seed`` (factor initialisation).
    binary : ``r = 1`` for every user-item pair seen in training, as the numpy ALS does
        (default); False: ``r`` = the pair's summed interaction weight.
    blocks : Spark's ``numUserBlocks`` / ``numItemBlocks`` (None: Spark's default, 10); a
        small data set on one machine fits faster in fewer blocks.
    spark : a SparkSession; None: :func:`ecomlib.data.engines.spark_session` at ``fit``.

    Users or items that Spark leaves without factors (none when every index has a pair in
    training; ``coldStartStrategy="drop"``) get zero vectors, so they score 0.
    """

    name = "spark_als"

    def __init__(
        self,
        factors: int = 64,
        reg: float = 0.1,
        alpha: float = 10.0,
        iterations: int = 12,
        seed: int = 42,
        binary: bool = True,
        blocks: int | None = None,
        spark=None,
    ):
        super().__init__(factors, reg, alpha, iterations, seed)
        self.binary = binary
        self.blocks = blocks
        self.spark = spark

    def _fit(self, inter: Interactions) -> None:
        from pyspark.ml.recommendation import ALS as MLlibALS

        if self.factors < 1 or self.iterations < 1 or self.reg < 0 or self.alpha < 0:
            raise ParameterError(
                f"SparkALS: factors and iterations must be >= 1, reg and alpha >= 0 (got "
                f"factors={self.factors!r}, iterations={self.iterations!r}, reg={self.reg!r}, "
                f"alpha={self.alpha!r})."
            )
        spark = _session(self.spark)
        coo = (self.seen_ if self.binary else inter.matrix).tocoo()
        pairs = pd.DataFrame(
            {
                "user": coo.row.astype(np.int32),
                "item": coo.col.astype(np.int32),
                "rating": coo.data.astype(np.float32),
            }
        )
        options = {}
        if self.blocks is not None:
            options = {"numUserBlocks": int(self.blocks), "numItemBlocks": int(self.blocks)}
        als = MLlibALS(
            rank=int(self.factors),
            maxIter=int(self.iterations),
            regParam=float(self.reg),
            alpha=float(self.alpha),
            implicitPrefs=True,
            seed=int(self.seed),
            userCol="user",
            itemCol="item",
            ratingCol="rating",
            coldStartStrategy="drop",
            **options,
        )
        model = als.fit(spark.createDataFrame(pairs))
        self.user_factors_ = self._dense(model.userFactors, inter.n_users)
        self.item_factors_ = self._dense(model.itemFactors, inter.n_items)

    def _dense(self, factors, n: int) -> np.ndarray:
        frame = factors.toPandas()
        out = np.zeros((n, int(self.factors)), dtype=np.float32)
        if len(frame):
            out[frame["id"].to_numpy()] = np.stack(frame["features"].to_numpy())
        return out


def _lines(data, spark):
    """``basket_id, product_id`` lines as a Spark DataFrame (see :func:`spark_basket_rules`)."""
    if isinstance(data, pd.DataFrame):
        return _session(spark).createDataFrame(data[["basket_id", "product_id"]])
    if hasattr(data, "sql") and hasattr(data, "spark"):  # ecomlib.data.engines.SparkEngine
        return data.sql("SELECT basket_id, product_id FROM transactions")
    if hasattr(data, "columns") and hasattr(data, "groupBy"):  # a Spark DataFrame
        return data.select("basket_id", "product_id")
    raise ParameterError(
        "spark_basket_rules takes a Spark engine (connect(..., engine='spark')), or a Spark "
        f"or pandas DataFrame with columns basket_id, product_id; got {type(data).__name__}."
    )


def spark_basket_rules(
    data,
    min_baskets: int = 20,
    min_lift: float = 1.0,
    max_basket_lines: int = 50,
    top: int | None = 200,
    spark=None,
) -> pd.DataFrame:
    """Rules A -> B ("frequently bought together") mined with Spark MLlib's FP-growth.

    The same rules, numbers and order as :func:`ecomlib.recommend.baskets.basket_rules`
    (single-item antecedent and consequent): FP-growth runs on one row per basket (the array
    of its distinct products) for the baskets of 2 to ``max_basket_lines`` products, with a
    minimum support of ``min_baskets`` baskets, and its frequent pairs give ``baskets``. As in
    the DuckDB rules, the basket count and each product's basket count (the denominators of
    ``support``, ``confidence`` and ``lift``) are taken over all baskets, single-product and
    bulk ones included, so the rules come from FP-growth's frequent itemsets rather than its
    ``associationRules`` (which would count only the baskets it mined). FP-growth also mines
    the longer itemsets (MLlib has no length limit), so a very low ``min_baskets`` on a big
    catalogue costs more than the pair counts alone.

    Parameters
    ----------
    data : a Spark engine (:func:`ecomlib.data.engines.connect` with ``engine="spark"``,
        its canonical ``transactions`` view), or a Spark or pandas DataFrame of order lines
        with columns ``basket_id, product_id``.
    min_baskets, min_lift, max_basket_lines, top : as in ``basket_rules``.
    spark : the session for a pandas ``data`` (None: ``spark_session()``).

    Returns
    -------
    DataFrame ``antecedent, consequent, baskets, support, confidence, lift`` (product ids),
    best lift first.
    """
    from pyspark.ml.fpm import FPGrowth
    from pyspark.sql import functions as F

    if min_baskets < 1 or max_basket_lines < 2 or min_lift < 0:
        raise ParameterError(
            f"spark_basket_rules: min_baskets must be >= 1 (got {min_baskets!r}), "
            f"max_basket_lines >= 2 (got {max_basket_lines!r}) and min_lift >= 0 "
            f"(got {min_lift!r})."
        )
    lines = (
        _lines(data, spark)
        .where(F.col("basket_id").isNotNull() & F.col("product_id").isNotNull())
        .distinct()
        .cache()
    )
    baskets = None
    try:
        item = lines.groupBy("product_id").agg(F.count("*").cast("double").alias("k"))
        baskets = lines.groupBy("basket_id").agg(F.collect_set("product_id").alias("items")).cache()
        in_range = F.size("items").between(2, int(max_basket_lines))
        counts = baskets.agg(
            F.count("*").alias("n"), F.sum(in_range.cast("long")).alias("sized")
        ).first()
        n, sized = int(counts["n"]), int(counts["sized"] or 0)
        if sized < min_baskets:  # no pair can meet in min_baskets baskets
            return _empty_rules(lines)
        # FP-growth keeps itemsets in at least ceil(minSupport * sized) baskets: half a basket
        # below min_baskets makes that exactly min_baskets whatever the float rounding
        fp = FPGrowth(
            itemsCol="items", minSupport=(min_baskets - 0.5) / sized, minConfidence=0.0
        ).fit(baskets.where(in_range).select("items"))
        half = fp.freqItemsets.where(
            (F.size("items") == 2) & (F.col("freq") >= int(min_baskets))
        ).select(
            F.array_min("items").alias("x"),
            F.array_max("items").alias("y"),
            F.col("freq").alias("together"),
        )
        pairs = half.select(
            F.col("x").alias("antecedent"), F.col("y").alias("consequent"), "together"
        ).unionByName(
            half.select(F.col("y").alias("antecedent"), F.col("x").alias("consequent"), "together")
        )
        ia = item.select(F.col("product_id").alias("antecedent"), F.col("k").alias("ka"))
        ib = item.select(F.col("product_id").alias("consequent"), F.col("k").alias("kb"))
        # the DuckDB query's arithmetic, operation for operation (so equal to the last bit)
        together, nb = F.col("together"), F.lit(float(n))
        lift = together * nb / (F.col("ka") * F.col("kb"))
        rules = (
            pairs.join(ia, "antecedent")
            .join(ib, "consequent")
            .select(
                "antecedent",
                "consequent",
                together.cast("long").alias("baskets"),
                (together / nb).alias("support"),
                (together / F.col("ka")).alias("confidence"),
                lift.alias("lift"),
            )
            .where(F.col("lift") >= float(min_lift))
            .orderBy(
                F.col("lift").desc(),
                F.col("baskets").desc(),
                F.col("antecedent").asc(),
                F.col("consequent").asc(),
            )
        )
        if top:
            rules = rules.limit(int(top))
        out = rules.toPandas()
    finally:
        lines.unpersist()
        if baskets is not None:
            baskets.unpersist()
    out["baskets"] = out["baskets"].astype("int64")
    return out[RULE_COLUMNS].reset_index(drop=True)


def _empty_rules(lines) -> pd.DataFrame:
    ids = lines.limit(0).select("product_id").toPandas()["product_id"]
    return pd.DataFrame(
        {
            "antecedent": ids,
            "consequent": ids,
            "baskets": pd.Series([], dtype="int64"),
            "support": pd.Series([], dtype="float64"),
            "confidence": pd.Series([], dtype="float64"),
            "lift": pd.Series([], dtype="float64"),
        }
    )
