"""A scorer for products a household has never bought (first purchases).

:class:`NewItemScorer` multiplies three factors and adds a collaborative term:

``score(u, i) = pop(i) ** pop_power * (eps + affinity(u, g(i))) ** affinity_power
* (1 + promo_weight * promo(u, i)) + ease_weight * ease(u, i)``

* ``pop(i)``: how many households bought the item in the last ``recent_days`` days of
  training (plus a little of its all-time buyer count);
* ``affinity(u, g)``: the share of the user's time-decayed purchases that fall in the item's
  group ``g`` (e.g. product type), so households are offered new products of kinds they buy;
* ``promo(u, i)``: the planned display/mailer share of the item at the user's stores during
  the predicted window (:class:`~ecomlib.recommend.signals.PlannedSignals`), optional;
* ``ease(u, i)``: row-normalised EASE scores, optional.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ecomlib._validate import check_param
from ecomlib.errors import ParameterError
from ecomlib.recommend.interactions import Interactions
from ecomlib.recommend.models import EASE, Recommender, _decay_weights, _matrix, normalise_rows

__all__ = ["NewItemScorer", "group_codes"]


def group_codes(groups, item_ids) -> np.ndarray:
    """Integer group per item (``groups``: Series item ID -> group); items without a group
    get a group of their own."""
    codes = pd.Series(groups).reindex(item_ids)
    known, uniques = pd.factorize(codes)
    missing = known < 0
    known[missing] = len(uniques) + np.arange(missing.sum())
    return known.astype(np.int64)


class NewItemScorer(Recommender):
    """Popularity x group affinity x planned promotion (+ EASE); see the module docstring.

    Parameters
    ----------
    item_groups : Series item ID -> group (e.g. product type); None = no affinity factor.
    recent_days : window of the recent popularity.
    half_life_days : decay of the user's purchases in the affinity.
    pop_power, affinity_power : exponents of the two factors.
    promo_weight : weight of the planned promotion at the user's stores (needs ``signals``).
    signals : :class:`~ecomlib.recommend.signals.PlannedSignals` or None.
    window_days : length of the predicted window (the promotion plan read is that of
        ``(end of training, end + window_days]``).
    ease_weight, ease_lam, max_items : optional EASE term.
    """

    name = "new_items"

    def __init__(
        self,
        item_groups: pd.Series | None = None,
        recent_days: float = 28,
        half_life_days: float = 90,
        pop_power: float = 1.0,
        affinity_power: float = 1.0,
        promo_weight: float = 0.0,
        signals=None,
        window_days: float = 28,
        ease_weight: float = 0.0,
        ease_lam: float = 500.0,
        max_items: int | None = 3000,
        eps: float = 0.01,
    ):
        self.item_groups = item_groups
        self.recent_days = recent_days
        self.half_life_days = half_life_days
        self.pop_power = pop_power
        self.affinity_power = affinity_power
        self.promo_weight = promo_weight
        self.signals = signals
        self.window_days = window_days
        self.ease_weight = ease_weight
        self.ease_lam = ease_lam
        self.max_items = max_items
        self.eps = eps

    def _validate_params(self) -> None:
        for name in ("recent_days", "half_life_days", "window_days"):
            check_param(name, getattr(self, name), lambda v: v > 0, "a number > 0", self)
        check_param(
            "promo_weight",
            self.promo_weight,
            not self.promo_weight or self.signals is not None,
            "0 without signals (a promotion weight needs signals=PlannedSignals(...))",
            self,
        )

    def _fit(self, inter: Interactions) -> None:
        if "timestamp" not in inter.frame:
            raise ParameterError("NewItemScorer needs a 'timestamp' column.")
        ts = pd.to_datetime(inter.frame["timestamp"])
        end = ts.max()
        recent = inter.frame[(ts > end - pd.Timedelta(days=self.recent_days)).to_numpy()]
        pairs = recent[["user_idx", "item_idx"]].drop_duplicates()
        pop = np.bincount(pairs["item_idx"], minlength=inter.n_items).astype(np.float32)
        self.pop_ = pop + 0.01 * self.popularity_ + 1e-3
        self.pop_factor_ = np.power(self.pop_ / self.pop_.max(), self.pop_power).astype(np.float32)
        self.groups_ = None
        if self.item_groups is not None:
            self.groups_ = group_codes(self.item_groups, inter.item_ids)
            n_groups = int(self.groups_.max()) + 1
            own = _matrix(inter, _decay_weights(inter, self.half_life_days))
            to_group = sp.csr_matrix(
                (np.ones(inter.n_items, np.float32), (np.arange(inter.n_items), self.groups_)),
                shape=(inter.n_items, n_groups),
            )
            ug = (own @ to_group).tocsr()
            total = np.asarray(ug.sum(axis=1)).ravel()
            self.affinity_ = (sp.diags(1.0 / np.maximum(total, 1e-12)) @ ug).tocsr()
        self.window_ = None
        if self.signals is not None and self.promo_weight:
            self.window_ = self.signals.window(
                end, end + pd.Timedelta(days=self.window_days), inter.user_ids, inter.item_ids
            )
        self.ease_ = None
        if self.ease_weight:
            self.ease_ = EASE(lam=self.ease_lam, max_items=self.max_items).fit(inter)

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        user_idx = np.asarray(user_idx)
        out = np.tile(self.pop_factor_, (len(user_idx), 1))
        if self.groups_ is not None:
            aff = self.affinity_[user_idx].toarray()[:, self.groups_]
            out *= np.power(self.eps + aff, self.affinity_power)
        if self.window_ is not None:
            w = self.window_
            promo = (w["h_store"][user_idx] @ (w["s_display"] + w["s_mailer"])).toarray()
            out *= 1.0 + self.promo_weight * promo
        out = normalise_rows(out)
        if self.ease_ is not None:
            out += self.ease_weight * normalise_rows(self.ease_.score(user_idx))
        return out
