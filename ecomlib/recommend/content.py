"""Content-based recommendation from MiniLM embeddings of product text.

Product descriptions (department, category, type, brand) are heavily duplicated across the
92k Complete Journey products, so only the *unique* texts are embedded (with
:func:`ecomlib.text.embed_texts`) and the vectors are cached under ``data/cache``.
"""

from __future__ import annotations

import hashlib
import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ecomlib._validate import check_param
from ecomlib.config import cache_dir
from ecomlib.errors import ParameterError
from ecomlib.recommend.interactions import Interactions
from ecomlib.recommend.models import Recommender, _decay_weights, _matrix

log = logging.getLogger(__name__)


def text_embeddings(
    texts: pd.Series, cache: bool = True, device: str = "auto", batch_size: int = 64
) -> np.ndarray:
    """L2-normalised MiniLM vectors for ``texts`` (n x 384); unique texts embedded once.

    The result for the unique texts is cached in ``data/cache/text-emb-<hash>.npy`` keyed
    by the texts themselves, so a second call costs a file read.
    """
    from ecomlib.text import embed_texts

    values = texts.fillna("").astype(str).to_numpy()
    uniq, inverse = np.unique(values, return_inverse=True)
    digest = hashlib.sha1("\n".join(uniq).encode()).hexdigest()[:16]
    path = cache_dir() / f"text-emb-{digest}.npy"
    if cache and path.is_file():
        vectors = np.load(path)
    else:
        log.info("embedding %d unique texts (of %d)", len(uniq), len(values))
        vectors = np.asarray(
            embed_texts(list(uniq), batch_size=batch_size, device=device), dtype=np.float32
        )
        if cache:
            np.save(path, vectors)
    return vectors[inverse]


class ContentBased(Recommender):
    """Scores items by how close their text vector is to the items the user bought.

    score(u, j) = sum over the user's items i of w_ui * exp(sharpness * (cos(i, j) - 1)) /
    sum_i w_ui: a kernel in embedding space, so near-identical descriptions ("dairy | milk |
    fluid milk white only") dominate, unlike a single averaged profile that drifts towards
    "average groceries". Identical descriptions share one vector, so the work is done once
    per *unique* vector (a few thousand for 92k products). The catalogue is every item with a
    vector: items nobody has interacted with yet (cold start) get scores too.

    Parameters
    ----------
    item_ids : IDs of the catalogue items, aligned with ``vectors``.
    vectors : (n_items, dim) array of L2-normalised item vectors.
    half_life_days : time-decay the user's items.
    sharpness : kernel sharpness (0 = every item equally similar; large = exact matches only).
    """

    name = "content"

    def __init__(
        self,
        item_ids,
        vectors: np.ndarray,
        half_life_days: float | None = None,
        sharpness: float = 20.0,
    ):
        self.item_ids = item_ids
        self.vectors = vectors
        self.half_life_days = half_life_days
        self.sharpness = sharpness

    def _validate_params(self) -> None:
        check_param(
            "item_ids", self.item_ids, lambda v: np.ndim(v) == 1, "a 1-d sequence of IDs", self
        )
        n = len(self.item_ids)
        check_param(
            "vectors",
            self.vectors,
            lambda v: np.ndim(v) == 2 and len(v) == n,
            f"a 2-d array with one row per item ID ({n} item_ids)",
            self,
        )

    def _fit(self, inter: Interactions) -> None:
        item_ids = np.asarray(self.item_ids)
        catalog = pd.Index(item_ids)
        if not catalog.is_unique:
            dup = catalog[catalog.duplicated()].unique()
            raise ParameterError(
                "The 'item_ids' parameter of ContentBased must hold unique IDs; got "
                f"{len(dup)} repeated, e.g. {list(dup[:3])}."
            )
        vecs = np.ascontiguousarray(self.vectors, dtype=np.float32)
        rows = vecs.view(np.dtype((np.void, vecs.dtype.itemsize * vecs.shape[1]))).ravel()
        _, first, group = np.unique(rows, return_index=True, return_inverse=True)
        uniq = vecs[first]
        self.groups_ = group.ravel()
        cols = catalog.get_indexer(inter.item_ids)
        if (cols < 0).any():
            log.info("%d trained items have no vector; they are ignored", int((cols < 0).sum()))
        ok = cols >= 0
        # users x unique vectors: the user's (decayed) weight on each description
        to_group = sp.csr_matrix(
            (np.ones(ok.sum(), np.float32), (np.flatnonzero(ok), self.groups_[cols[ok]])),
            shape=(inter.n_items, len(uniq)),
        )
        weights = _matrix(inter, _decay_weights(inter, self.half_life_days))
        profile = (weights @ to_group).tocsr()
        total = np.asarray(profile.sum(axis=1)).ravel()
        self.profiles_ = (sp.diags(1.0 / np.maximum(total, 1e-12)) @ profile).tocsr()
        sims = uniq @ uniq.T
        self.kernel_ = np.exp(self.sharpness * (sims - 1.0)).astype(np.float32)
        self.item_ids_ = item_ids
        to_catalog = sp.csr_matrix(
            (np.ones(ok.sum(), np.float32), (np.flatnonzero(ok), cols[ok])),
            shape=(inter.n_items, len(catalog)),
        )
        self.seen_ = (self.seen_ @ to_catalog).tocsr()
        pop = np.zeros(len(catalog), np.float32)
        pop[cols[ok]] = self.popularity_[ok]
        self.popularity_ = pop

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        per_group = np.asarray(self.profiles_[user_idx] @ self.kernel_)
        return per_group[:, self.groups_]
