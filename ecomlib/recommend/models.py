"""Recommenders with one API: ``fit(interactions)`` then
``recommend(user_ids, k, exclude_seen=True)`` -> DataFrame ``user_id, item_id, score, rank``.

Every model scores all items for a batch of users (:meth:`Recommender.score`); the base
class masks seen items, keeps the top k and maps indices back to IDs. Item-item models keep
sparse similarity matrices (top neighbours per item), so the Complete Journey catalogue
never becomes a dense users x products array; EASE, which needs a dense item x item matrix,
is restricted to the ``max_items`` most popular items.
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ecomlib._validate import check_param
from ecomlib.errors import NotFittedError, ParameterError
from ecomlib.recommend.interactions import Interactions

log = logging.getLogger(__name__)

__all__ = [
    "ALS",
    "BuyAgain",
    "EASE",
    "ItemKNN",
    "Popularity",
    "RP3beta",
    "Recommender",
    "Blend",
    "normalise_rows",
]


def _as_interactions(data) -> Interactions:
    if isinstance(data, Interactions):
        return data
    if isinstance(data, pd.DataFrame):
        return Interactions(data)
    raise ParameterError(
        f"fit() takes an Interactions object or a DataFrame, got {type(data).__name__}."
    )


def normalise_rows(scores: np.ndarray) -> np.ndarray:
    """Divide each row by its largest absolute value (rows of zeros stay zero)."""
    top = np.abs(scores).max(axis=1, keepdims=True)
    return scores / np.where(top > 0, top, 1.0)


def _decay_weights(inter: Interactions, half_life_days: float | None) -> np.ndarray:
    """Per-row weights ``weight * 0.5 ** (age_days / half_life)`` (age from the last row)."""
    w = inter.frame["weight"].to_numpy(np.float64)
    if half_life_days is None:
        return w
    if "timestamp" not in inter.frame:
        raise ParameterError("half_life_days needs a 'timestamp' column in the interactions.")
    ts = pd.to_datetime(inter.frame["timestamp"])
    age = (ts.max() - ts).dt.total_seconds().to_numpy() / 86400.0
    return w * np.power(0.5, age / float(half_life_days))


def _matrix(inter: Interactions, values: np.ndarray) -> sp.csr_matrix:
    m = sp.csr_matrix(
        (values.astype(np.float32), (inter.frame["user_idx"], inter.frame["item_idx"])),
        shape=(inter.n_users, inter.n_items),
    )
    m.sum_duplicates()
    return m


class Recommender:
    """Base class. Subclasses implement ``_fit(inter)`` and ``score(user_idx)``."""

    name = "recommender"
    #: users scored at once by :meth:`recommend` (each batch is a dense users x items block);
    #: models that hold more per user (ranker candidates, blended components) use fewer
    recommend_batch_size = 1024

    def fit(self, interactions) -> Recommender:
        """Fit on an :class:`Interactions` object or a canonical interactions DataFrame."""
        self._validate_params()
        inter = _as_interactions(interactions)
        if len(inter) == 0:
            raise ParameterError("fit() got no interactions.")
        self.interactions_ = inter
        self.item_ids_ = inter.item_ids
        self.seen_ = inter.binary()
        self.popularity_ = np.asarray(self.seen_.sum(axis=0)).ravel().astype(np.float32)
        t0 = time.perf_counter()
        self._fit(inter)
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _validate_params(self) -> None:
        """Check the constructor's parameters (the start of :meth:`fit`; constructors only
        store them); subclasses with constraints raise :class:`ParameterError` here."""

    def _fit(self, inter: Interactions) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        """Scores (len(user_idx) x n_items) for users given by training index."""
        raise NotImplementedError  # pragma: no cover

    def _check_fitted(self) -> None:
        if not hasattr(self, "interactions_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first.")

    def recommend(
        self,
        user_ids,
        k: int = 10,
        exclude_seen: bool = True,
        unknown: str = "raise",
        items=None,
        batch_size: int | None = None,
    ) -> pd.DataFrame:
        """Top-``k`` items per user.

        Parameters
        ----------
        user_ids : array-like of user IDs.
        k : list length (at most the number of items).
        exclude_seen : drop items the user interacted with in training.
        unknown : ``"raise"`` (default) raises :class:`ParameterError` for users absent from
            training; ``"popular"`` gives them the most popular items; ``"skip"`` leaves them out.
        batch_size : users scored at once (default :attr:`recommend_batch_size`); the lists do
            not depend on it, peak memory does.

        Returns
        -------
        DataFrame ``user_id, item_id, score, rank`` (rank 1 = best), k rows per user (fewer
        only when the user has fewer than k unseen items).
        """
        self._check_fitted()
        if not isinstance(k, (int, np.integer)) or k < 1:
            raise ParameterError(f"k must be a positive integer, got {k!r}.")
        if unknown not in ("raise", "popular", "skip"):
            raise ParameterError(f"unknown must be 'raise', 'popular' or 'skip', got {unknown!r}.")
        user_ids = np.atleast_1d(np.asarray(user_ids))
        idx = self.interactions_.user_index(
            user_ids, missing="raise" if unknown == "raise" else "ignore"
        )
        known = idx >= 0
        frames = []
        allowed = None
        if items is not None:
            cols = pd.Index(self.item_ids_).get_indexer(np.atleast_1d(np.asarray(items)))
            allowed = np.zeros(len(self.item_ids_), dtype=bool)
            allowed[cols[cols >= 0]] = True
        kk = min(int(k), len(self.item_ids_))
        pos = np.flatnonzero(known)
        # keep each dense score block near 2**25 floats (128 MB) whatever the catalogue size
        batch_size = batch_size or self.recommend_batch_size
        batch_size = max(1, min(batch_size, 2**25 // max(1, len(self.item_ids_))))
        for start in range(0, len(pos), batch_size):
            rows = pos[start : start + batch_size]
            scores = np.asarray(self.score(idx[rows]), dtype=np.float32)
            if exclude_seen:
                seen = self._seen_in_universe(idx[rows])
                scores[seen.nonzero()] = -np.inf
            if allowed is not None:
                scores[:, ~allowed] = -np.inf
            frames.append(self._top_k(user_ids[rows], scores, kk))
        if unknown == "popular" and (~known).any():
            pop = np.zeros(len(self.item_ids_), np.float32)
            pop[: len(self.popularity_)] = self.popularity_
            scores = np.tile(pop, ((~known).sum(), 1))
            frames.append(self._top_k(user_ids[~known], scores, kk))
        if not frames:
            return pd.DataFrame({"user_id": [], "item_id": [], "score": [], "rank": []})
        return pd.concat(frames, ignore_index=True)

    def _seen_in_universe(self, user_idx: np.ndarray) -> sp.csr_matrix:
        seen = self.seen_[user_idx]
        if seen.shape[1] != len(self.item_ids_):  # universe larger than training items
            seen = sp.hstack(
                [seen, sp.csr_matrix((seen.shape[0], len(self.item_ids_) - seen.shape[1]))]
            ).tocsr()
        return seen

    def _top_k(self, users: np.ndarray, scores: np.ndarray, k: int) -> pd.DataFrame:
        part = top_k_columns(scores, k)
        part_scores = np.take_along_axis(scores, part, axis=1)
        order = np.argsort(-part_scores, axis=1, kind="stable")
        top = np.take_along_axis(part, order, axis=1)
        top_scores = np.take_along_axis(part_scores, order, axis=1)
        frame = pd.DataFrame(
            {
                "user_id": np.repeat(users, k),
                "item_id": self.item_ids_[top.ravel()],
                "score": top_scores.ravel(),
                "rank": np.tile(np.arange(1, k + 1), len(users)),
            }
        )
        return frame[np.isfinite(frame["score"].to_numpy())].reset_index(drop=True)

    def __repr__(self) -> str:
        params = {k: v for k, v in vars(self).items() if not k.endswith("_")}
        inner = ", ".join(f"{k}={v!r}" for k, v in params.items())
        return f"{type(self).__name__}({inner})"


def top_k_columns(scores: np.ndarray, k: int, rows_per_block: int = 256) -> np.ndarray:
    """The columns of each row's ``k`` highest scores (unordered), as ``np.argpartition``
    gives them; blocks of rows run on threads (numpy releases the GIL), several times
    faster on a large users x items matrix and the same result."""
    if len(scores) <= rows_per_block:
        return np.argpartition(-scores, k - 1, axis=1)[:, :k]
    from concurrent.futures import ThreadPoolExecutor

    blocks = range(0, len(scores), rows_per_block)
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        parts = pool.map(lambda i: top_k_columns(scores[i : i + rows_per_block], k), blocks)
        return np.vstack(list(parts))


# ---------------------------------------------------------------------- baselines
class Popularity(Recommender):
    """Most popular items: number of distinct users (optionally time-decayed weights)."""

    name = "popularity"

    def __init__(self, half_life_days: float | None = None):
        self.half_life_days = half_life_days

    def _fit(self, inter: Interactions) -> None:
        if self.half_life_days is None:
            self.item_scores_ = self.popularity_.copy()
        else:
            w = _decay_weights(inter, self.half_life_days)
            self.item_scores_ = np.bincount(
                inter.frame["item_idx"], weights=w, minlength=inter.n_items
            ).astype(np.float32)

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        return np.tile(self.item_scores_, (len(user_idx), 1))


class BuyAgain(Recommender):
    """The user's own purchase frequency (optionally time-decayed); unseen items are ranked
    after every seen one by popularity, so lists are always full.

    Parameters
    ----------
    half_life_days : a purchase ``a`` days before the end of training counts 0.5^(a / h).
    repeat_exponent : multiply by the item's repeat rate ** repeat_exponent, where the repeat
        rate is the (smoothed) share of the item's buyers who bought it in >= 2 baskets:
        staples (milk) rise above one-off purchases.
    """

    name = "buy_again"

    def __init__(self, half_life_days: float | None = None, repeat_exponent: float = 0.0):
        self.half_life_days = half_life_days
        self.repeat_exponent = repeat_exponent

    def _fit(self, inter: Interactions) -> None:
        own = _matrix(inter, _decay_weights(inter, self.half_life_days))
        if self.repeat_exponent:
            counts = (
                inter.matrix
                if "basket_id" not in inter.frame
                else _matrix(inter, np.ones(len(inter.frame)))
            )
            repeaters = np.asarray((counts >= 2).sum(axis=0)).ravel()
            rate = (repeaters + 1.0) / (self.popularity_ + 2.0)
            own = own @ sp.diags(np.power(rate, self.repeat_exponent).astype(np.float32))
        self.own_ = own.tocsr()
        pop = self.popularity_
        self.tiebreak_ = (pop / (pop.max() + 1.0)).astype(np.float32)

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        own = self.own_[user_idx].toarray()
        top = own.max(axis=1, keepdims=True)
        return own / np.where(top > 0, top, 1.0) + 1e-3 * self.tiebreak_


# ---------------------------------------------------------------------- item-item models
def _topk_columns(dense: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices and values of the k largest entries of each column (torch.topk: several
    times faster than numpy's argpartition along axis 0)."""
    import torch

    k = min(k, dense.shape[0])
    val, idx = torch.topk(torch.from_numpy(dense), k, dim=0, sorted=False)
    return idx.numpy(), val.numpy()


def _popular_items(popularity: np.ndarray, max_items: int | None) -> np.ndarray:
    """Indices (sorted) of the ``max_items`` most popular items, or all items."""
    n = len(popularity)
    if max_items is None or max_items >= n:
        return np.arange(n)
    return np.sort(np.argsort(-popularity, kind="stable")[:max_items])


def _expand(part: np.ndarray, keep: np.ndarray, n_items: int) -> np.ndarray:
    """Scores over the kept items -> scores over all items (0 elsewhere)."""
    if len(keep) == n_items:
        return part
    out = np.zeros((part.shape[0], n_items), dtype=np.float32)
    out[:, keep] = part
    return out


def _blocked_similarity(
    left: sp.csr_matrix, right: sp.csr_matrix, sim, k: int, block: int = 1024
) -> sp.csr_matrix:
    """Sparse item x item matrix keeping, for each target column j, the k largest entries of
    ``sim(G_block, cols)``, where ``G_block = left @ right[:, cols]`` is computed densely
    (float32, items x block) one block of target columns at a time."""
    right = right.tocsc()
    n = right.shape[1]
    rows, cols, vals = [], [], []
    for start in range(0, n, block):
        cidx = np.arange(start, min(n, start + block))
        gram = np.asarray(left @ right[:, cidx].toarray(), dtype=np.float32)
        s = sim(gram, cidx)
        s[cidx, np.arange(len(cidx))] = 0.0  # no self-similarity
        top, val = _topk_columns(s, k)
        rows.append(top.ravel())
        cols.append(np.tile(cidx, top.shape[0]))
        vals.append(val.ravel())
    w = sp.csr_matrix(
        (np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
        shape=(left.shape[0], n),
    )
    w.eliminate_zeros()
    return w


class ItemKNN(Recommender):
    """Item-based nearest neighbours with shrunk (asymmetric) cosine similarity.

    sim(i, j) = |U_i & U_j| / (|U_i|^alpha |U_j|^(1-alpha) + shrink), top ``neighbours`` per
    item; score(u, j) = sum over the user's items i of w_ui * sim(i, j).
    """

    name = "item_knn"

    def __init__(
        self,
        neighbours: int = 100,
        shrink: float = 10.0,
        alpha: float = 0.5,
        half_life_days: float | None = None,
        max_items: int | None = None,
    ):
        self.neighbours = neighbours
        self.shrink = shrink
        self.alpha = alpha
        self.half_life_days = half_life_days
        self.max_items = max_items

    def _fit(self, inter: Interactions) -> None:
        self.items_kept_ = _popular_items(self.popularity_, self.max_items)
        x = self.seen_[:, self.items_kept_]
        n = np.asarray(x.sum(axis=0)).ravel().astype(np.float32)
        left_norm = np.power(n, self.alpha)[:, None]
        right_norm = np.power(n, 1 - self.alpha)

        def sim(gram: np.ndarray, cidx: np.ndarray) -> np.ndarray:
            gram /= left_norm * right_norm[None, cidx] + (self.shrink + 1e-6)
            return gram

        self.similarity_ = _blocked_similarity(x.T.tocsr(), x, sim, self.neighbours)
        self.user_matrix_ = (
            x
            if self.half_life_days is None
            else _matrix(inter, _decay_weights(inter, self.half_life_days))[:, self.items_kept_]
        )

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        part = (self.user_matrix_[user_idx] @ self.similarity_).toarray()
        return _expand(part, self.items_kept_, self.seen_.shape[1])


class RP3beta(Recommender):
    """Random walk user -> item -> user -> item with popularity penalty (Paudel et al. 2017).

    W(i, j) = (P_iu P_uj)^alpha / pop_j^beta, top ``neighbours`` per item.
    """

    name = "rp3beta"

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 0.5,
        neighbours: int = 200,
        max_items: int | None = None,
    ):
        self.alpha = alpha
        self.beta = beta
        self.neighbours = neighbours
        self.max_items = max_items

    def _fit(self, inter: Interactions) -> None:
        self.items_kept_ = _popular_items(self.popularity_, self.max_items)
        x = self.seen_[:, self.items_kept_]
        deg_u = np.asarray(x.sum(axis=1)).ravel()
        deg_i = np.asarray(x.sum(axis=0)).ravel()
        p_ui = sp.diags(1.0 / np.maximum(deg_u, 1)) @ x  # users x items, rows sum to 1
        p_iu = (x @ sp.diags(1.0 / np.maximum(deg_i, 1))).T.tocsr()  # items x users
        if self.alpha != 1.0:
            p_ui = p_ui.power(self.alpha)
            p_iu = p_iu.power(self.alpha)
        pen = np.power(np.maximum(deg_i, 1), -self.beta).astype(np.float32)

        def sim(gram: np.ndarray, cidx: np.ndarray) -> np.ndarray:
            gram *= pen[None, cidx]
            return gram

        w = _blocked_similarity(
            p_iu.astype(np.float32), p_ui.astype(np.float32), sim, self.neighbours
        )
        self.similarity_ = w

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        part = (self.seen_[user_idx][:, self.items_kept_] @ self.similarity_).toarray()
        return _expand(part, self.items_kept_, self.seen_.shape[1])


def _ease_weights_inplace(xk: sp.spmatrix, lam: float, block: int = 2048) -> np.ndarray:
    """EASE weights ``B = -P / diag(P)`` (zero diagonal), ``P = (X^T X + lam I)^-1``, in
    float32 with one items x items array: the Gram matrix is summed from dense blocks of
    ``block`` users (no sparse item x item product) and inverted in place by LAPACK."""
    import scipy.linalg

    xk = sp.csr_matrix(xk)
    n = xk.shape[1]
    gram = np.zeros((n, n), np.float32)
    for start in range(0, xk.shape[0], block):
        dense = xk[start : start + block].toarray().astype(np.float32, copy=False)
        gram += dense.T @ dense
    del dense
    gram[np.diag_indices_from(gram)] += lam
    # the Gram matrix is symmetric: invert its Fortran-ordered transpose in place (no copy)
    p = scipy.linalg.inv(gram.T, overwrite_a=True, check_finite=False).T
    del gram
    scale = -np.diag(p).copy()
    p /= scale[None, :]
    p[np.diag_indices_from(p)] = 0.0
    return p


class EASE(Recommender):
    """Embarrassingly Shallow Autoencoder (Steck 2019): B = -P / diag(P), P = (X^T X + lam I)^-1.

    Parameters
    ----------
    lam : L2 regularisation.
    max_items : keep only the most popular items (the dense item x item matrix is
        max_items^2 x 4 bytes); other items score 0.
    weight_power : the input matrix holds ``weight ** weight_power`` (0 = binary; 0.5 on
        ratings = square-rooted ratings, which lets a 5-star rating count more than a 1-star).
    pop_exponent : multiply item j's score by popularity_j ** pop_exponent (0 = plain EASE;
        a small negative value lets slightly less popular items through).
    half_life_days : time-decay the *user* rows used at scoring time (for purchase data).
    """

    name = "ease"

    def __init__(
        self,
        lam: float = 500.0,
        max_items: int | None = None,
        weight_power: float = 0.0,
        pop_exponent: float = 0.0,
        half_life_days: float | None = None,
    ):
        self.lam = lam
        self.max_items = max_items
        self.weight_power = weight_power
        self.pop_exponent = pop_exponent
        self.half_life_days = half_life_days

    def _fit(self, inter: Interactions) -> None:
        if self.weight_power:
            x = inter.matrix.copy()
            x.data = np.power(np.maximum(x.data, 0), self.weight_power).astype(np.float32)
        else:
            x = self.seen_
        keep = self.items_kept_ = _popular_items(self.popularity_, self.max_items)
        xk = x[:, keep]
        if len(keep) <= 3000:
            gram = (xk.T @ xk).toarray().astype(np.float64)
            gram[np.diag_indices_from(gram)] += self.lam
            p = np.linalg.inv(gram)
            b = p / (-np.diag(p))
            b[np.diag_indices_from(b)] = 0.0
            del gram, p
        else:  # float32 halves big solves; built and inverted in place to bound peak memory
            b = _ease_weights_inplace(xk, self.lam)
        if self.pop_exponent:
            b *= np.power(np.maximum(self.popularity_[keep], 1.0), self.pop_exponent)[None, :]
        self.weights_ = b.astype(np.float32, copy=False)
        del b
        if self.half_life_days is not None:
            self.user_matrix_ = _matrix(inter, _decay_weights(inter, self.half_life_days))
        else:
            self.user_matrix_ = x

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        xk = self.user_matrix_[user_idx][:, self.items_kept_]
        return _expand(np.asarray(xk @ self.weights_), self.items_kept_, self.seen_.shape[1])


# ---------------------------------------------------------------------- matrix factorisation
class ALS(Recommender):
    """Implicit-feedback ALS (Hu, Koren, Volinsky 2008), confidence 1 + alpha * weight.

    Closed-form alternating least squares in numpy: each half-step solves all users (or
    items) at once with a batched ``factors`` x ``factors`` solve.
    """

    name = "als"

    def __init__(
        self,
        factors: int = 64,
        reg: float = 0.1,
        alpha: float = 10.0,
        iterations: int = 12,
        seed: int = 42,
    ):
        self.factors = factors
        self.reg = reg
        self.alpha = alpha
        self.iterations = iterations
        self.seed = seed

    @staticmethod
    def _solve(fixed: np.ndarray, conf: sp.csr_matrix, reg: float, chunk: int = 2048) -> np.ndarray:
        """Solve every row's normal equations at once (batched ``numpy.linalg.solve``).

        ``conf`` holds c - 1 = alpha * weight for observed pairs. A_r = Y^T Y + Y^T (C_r - I) Y
        + reg I is built as ``conf @ outer`` with ``outer[i] = y_i y_i^T`` flattened.
        """
        m, f = fixed.shape
        gram = fixed.T @ fixed + reg * np.eye(f, dtype=fixed.dtype)
        outer = (fixed[:, :, None] * fixed[:, None, :]).reshape(m, f * f)
        pref = conf.copy()
        pref.data = 1.0 + pref.data  # c * p for observed pairs
        out = np.zeros((conf.shape[0], f), dtype=fixed.dtype)
        for start in range(0, conf.shape[0], chunk):
            rows = slice(start, start + chunk)
            a = np.asarray(conf[rows] @ outer).reshape(-1, f, f) + gram
            b = np.asarray(pref[rows] @ fixed)
            out[rows] = np.linalg.solve(a, b[:, :, None])[:, :, 0]
        return out

    def _fit(self, inter: Interactions) -> None:
        rng = np.random.default_rng(self.seed)
        conf = self.seen_.astype(np.float32)
        conf.data = self.alpha * conf.data
        conf_t = conf.T.tocsr()
        users = rng.normal(0, 0.01, (inter.n_users, self.factors)).astype(np.float32)
        items = rng.normal(0, 0.01, (inter.n_items, self.factors)).astype(np.float32)
        for _ in range(self.iterations):
            users = self._solve(items, conf, self.reg)
            items = self._solve(users, conf_t, self.reg)
        self.user_factors_ = users.astype(np.float32)
        self.item_factors_ = items.astype(np.float32)

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        return self.user_factors_[user_idx] @ self.item_factors_.T


# ---------------------------------------------------------------------- blending
class Blend(Recommender):
    """Weighted sum of already-defined models' row-normalised scores.

    Each component is fitted on the same interactions (unless ``prefit=True``); its scores
    are divided by their per-user maximum absolute value, multiplied by its weight and added,
    aligned on item IDs (the union of the components' catalogues, so a content model can
    contribute items never seen in training).
    """

    name = "blend"
    recommend_batch_size = 256  # every component holds a dense score block per batch

    def __init__(self, models: list[Recommender], weights: list[float], prefit: bool = False):
        self.models = models
        self.weights = weights
        self.prefit = prefit

    def _validate_params(self) -> None:
        check_param("models", self.models, lambda m: len(m) >= 1, "a non-empty list", self)
        check_param(
            "weights",
            self.weights,
            lambda w: len(w) == len(self.models),
            f"a list of one weight per model ({len(self.models)})",
            self,
        )

    def _fit(self, inter: Interactions) -> None:
        for m in self.models:
            if not self.prefit:
                m.fit(inter)
            elif not hasattr(m, "interactions_"):
                raise ParameterError(f"prefit=True but {type(m).__name__} is not fitted.")
        base = list(inter.item_ids)
        extra = []
        known = set(base)
        for m in self.models:
            for item in m.item_ids_:
                if item not in known:
                    known.add(item)
                    extra.append(item)
        self.item_ids_ = np.asarray(base + extra)
        universe = pd.Index(self.item_ids_)
        self.columns_ = [universe.get_indexer(m.item_ids_) for m in self.models]
        self.user_maps_ = [
            m.interactions_.user_index(inter.user_ids, missing="ignore") for m in self.models
        ]

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        out = np.zeros((len(user_idx), len(self.item_ids_)), dtype=np.float32)
        for m, w, cols, umap in zip(
            self.models, self.weights, self.columns_, self.user_maps_, strict=False
        ):
            if w == 0:
                continue
            rows = umap[user_idx]
            ok = rows >= 0
            s = np.zeros((len(rows), len(cols)), dtype=np.float32)
            if ok.any():
                s[ok] = normalise_rows(np.asarray(m.score(rows[ok]), dtype=np.float32))
            out[:, cols] += w * s
        return out
