"""Market-basket analysis: "frequently bought together" rules from the baskets of a source.

Works on any source whose order lines carry a product id; no customer id is needed (a shop
without customer accounts still gets basket rules). The pair counts are computed in DuckDB
over the canonical ``transactions`` view: for products A and B, ``support`` is the share of
baskets holding both, ``confidence`` the share of A's baskets that also hold B, and ``lift``
how much more often they meet than if bought independently.

>>> con = open_source("pizzaplace").connect()
>>> rules = basket_rules(con, min_baskets=50)
"""

from __future__ import annotations

import pandas as pd

from ecomlib.errors import ParameterError
from ecomlib.recommend.interactions import quiet_query


def basket_rules(
    con,
    min_baskets: int = 20,
    min_lift: float = 1.0,
    max_basket_lines: int = 50,
    top: int | None = 200,
) -> pd.DataFrame:
    """Rules A -> B between products bought in the same basket, best lift first.

    Parameters
    ----------
    con : DuckDB connection with a canonical ``transactions`` view.
    min_baskets : keep pairs that meet in at least this many baskets.
    min_lift : keep rules with at least this lift.
    max_basket_lines : leave out baskets with more distinct products than this (a bulk order
        would add its products' every pair).
    top : return the ``top`` rules by lift (None: all).

    Returns
    -------
    DataFrame ``antecedent, consequent, baskets, support, confidence, lift`` (product ids).
    """
    if min_baskets < 1 or max_basket_lines < 2 or min_lift < 0:
        raise ParameterError(
            f"basket_rules: min_baskets must be >= 1 (got {min_baskets!r}), max_basket_lines "
            f">= 2 (got {max_basket_lines!r}) and min_lift >= 0 (got {min_lift!r})."
        )
    limit = f"LIMIT {int(top)}" if top else ""
    sql = f"""
        WITH lines AS (
            SELECT DISTINCT basket_id, product_id FROM transactions
            WHERE product_id IS NOT NULL AND basket_id IS NOT NULL
        ), sized AS (
            SELECT basket_id FROM lines GROUP BY basket_id
            HAVING count(*) BETWEEN 2 AND {int(max_basket_lines)}
        ), n AS (SELECT count(DISTINCT basket_id)::DOUBLE AS baskets FROM lines),
        item AS (SELECT product_id, count(*)::DOUBLE AS k FROM lines GROUP BY product_id),
        -- a product in fewer baskets than min_baskets cannot be in a kept pair
        kept AS (
            SELECT l.* FROM lines l SEMI JOIN sized USING (basket_id)
            SEMI JOIN (SELECT product_id FROM item WHERE k >= {int(min_baskets)}) USING (product_id)
        ), half AS (
            SELECT a.product_id AS x, b.product_id AS y, count(*) AS together
            FROM kept a JOIN kept b ON a.basket_id = b.basket_id AND a.product_id < b.product_id
            GROUP BY 1, 2 HAVING count(*) >= {int(min_baskets)}
        ), pairs AS (
            SELECT x AS antecedent, y AS consequent, together FROM half
            UNION ALL SELECT y, x, together FROM half
        )
        SELECT p.antecedent, p.consequent, p.together AS baskets,
               p.together / n.baskets AS support,
               p.together / ia.k AS confidence,
               p.together * n.baskets / (ia.k * ib.k) AS lift
        FROM pairs p CROSS JOIN n
        JOIN item ia ON ia.product_id = p.antecedent
        JOIN item ib ON ib.product_id = p.consequent
        WHERE p.together * n.baskets / (ia.k * ib.k) >= {float(min_lift)}
        ORDER BY lift DESC, baskets DESC, antecedent, consequent
        {limit}
    """
    out = quiet_query(con, sql)
    out["baskets"] = out["baskets"].astype("int64")
    return out.reset_index(drop=True)


def recommendations_table(recs: pd.DataFrame, con, names: pd.Series | None = None) -> pd.DataFrame:
    """A model's lists as a shop would use them: ``customer, rank, product, score`` with the
    source's own ids (text ids that the data layer encoded are given back), plus ``product_name``
    when ``names`` (product id -> text) is given.

    Parameters
    ----------
    recs : ``user_id, item_id, score, rank`` from a recommender's ``recommend``.
    con : the DuckDB connection of the source the model was trained on.
    names : optional product descriptions indexed by product id.
    """
    from ecomlib.data.source import key_table

    out = recs.sort_values(["user_id", "rank"]).reset_index(drop=True)
    table = pd.DataFrame(
        {"customer": out["user_id"], "rank": out["rank"].astype("int64"), "product": out["item_id"]}
    )
    if names is not None:
        table["product_name"] = out["item_id"].map(names).to_numpy()
    table["score"] = out["score"].astype(float).round(6)
    for col, key in (("customer", "household_id"), ("product", "product_id")):
        keys = key_table(con, key)
        if keys is not None:
            table[col] = table[col].map(pd.Series(keys["key"].to_numpy(), index=keys["code"]))
    return table
