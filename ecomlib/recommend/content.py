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
    """Scores items by cosine similarity between their text vector and the user's profile
    (the normalised, optionally time-decayed, sum of the vectors of the user's items).

    The catalogue is every item with a vector, so items nobody has interacted with yet
    (cold start) can be recommended.

    Parameters
    ----------
    item_ids : IDs of the catalogue items, aligned with ``vectors``.
    vectors : (n_items, dim) array of L2-normalised item vectors.
    half_life_days : time-decay the user's items when building the profile.
    """

    name = "content"

    def __init__(self, item_ids, vectors: np.ndarray, half_life_days: float | None = None):
        self.item_ids = np.asarray(item_ids)
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.half_life_days = half_life_days
        if len(self.item_ids) != len(self.vectors):
            raise ParameterError("item_ids and vectors must have the same length.")

    def _fit(self, inter: Interactions) -> None:
        catalog = pd.Index(self.item_ids)
        if not catalog.is_unique:
            raise ParameterError("ContentBased item_ids must be unique.")
        cols = catalog.get_indexer(inter.item_ids)
        if (cols < 0).any():
            log.warning(
                "%d trained items have no text vector; they are ignored", int((cols < 0).sum())
            )
        weights = _decay_weights(inter, self.half_life_days)
        user_items = _matrix(inter, weights)  # users x train items
        to_catalog = sp.csr_matrix(
            (np.ones((cols >= 0).sum(), np.float32), (np.flatnonzero(cols >= 0), cols[cols >= 0])),
            shape=(inter.n_items, len(catalog)),
        )
        profile = np.asarray(user_items @ to_catalog @ self.vectors)
        norm = np.linalg.norm(profile, axis=1, keepdims=True)
        self.profiles_ = (profile / np.where(norm > 0, norm, 1.0)).astype(np.float32)
        self.item_ids_ = self.item_ids
        self.seen_ = (self.seen_ @ to_catalog).tocsr()
        pop = np.zeros(len(catalog), np.float32)
        pop[cols[cols >= 0]] = self.popularity_[cols >= 0]
        self.popularity_ = pop

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        return self.profiles_[user_idx] @ self.vectors.T
