"""Semantic search over reviews with sentence embeddings ("reviews most similar to: ...")."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ecomlib.errors import ParameterError

__all__ = ["SemanticIndex"]


class SemanticIndex:
    """Cosine-similarity search over L2-normalised embeddings.

    Parameters
    ----------
    embeddings : array (n, d)
        Unit-norm vectors of the documents (e.g. from :func:`ecomlib.text.embed_texts`).
    texts : sequence of str
        The documents, same order.
    encoder : callable, optional
        ``encoder(list_of_queries) -> (m, d)`` unit-norm array; default ``embed_texts``.
    meta : DataFrame, optional
        Extra columns (label, product, ...) returned with each hit.
    """

    def __init__(
        self,
        embeddings: np.ndarray,
        texts: Sequence[str],
        encoder: Callable[[list[str]], np.ndarray] | None = None,
        meta: pd.DataFrame | None = None,
    ):
        emb = np.asarray(embeddings, dtype=np.float32)
        if emb.ndim != 2 or len(emb) != len(texts):
            raise ParameterError(
                f"The 'embeddings' parameter of SemanticIndex must be (n, d) with n = "
                f"{len(texts)} texts; got shape {emb.shape}."
            )
        if meta is not None and len(meta) != len(texts):
            raise ParameterError(
                f"The 'meta' parameter of SemanticIndex must have one row per text "
                f"({len(texts)}); got {len(meta)} rows."
            )
        norms = np.linalg.norm(emb, axis=1, keepdims=True)
        self.embeddings = emb / np.clip(norms, 1e-12, None)
        self.texts = list(texts)
        self.meta = None if meta is None else meta.reset_index(drop=True)
        if encoder is None:
            from ecomlib.text.embeddings import embed_texts

            encoder = embed_texts
        self.encoder = encoder

    def query(self, query: str | np.ndarray, k: int = 5, max_chars: int = 200) -> pd.DataFrame:
        """The ``k`` most similar documents to a query text (or vector), best first."""
        if isinstance(query, str):
            if not query.strip():
                raise ParameterError("The query is empty.")
            q = np.asarray(self.encoder([query]), dtype=np.float32)[0]
        else:
            q = np.asarray(query, dtype=np.float32).ravel()
        q = q / max(float(np.linalg.norm(q)), 1e-12)
        sims = self.embeddings @ q
        k = min(k, len(sims))
        top = np.argpartition(-sims, k - 1)[:k] if k < len(sims) else np.arange(len(sims))
        top = top[np.argsort(-sims[top], kind="stable")]
        out = pd.DataFrame(
            {
                "similarity": sims[top].round(3),
                "text": [_short(self.texts[i], max_chars) for i in top],
            },
            index=pd.Index(top, name="review"),
        )
        if self.meta is not None:
            out = pd.concat([out, self.meta.iloc[top].set_axis(out.index)], axis=1)
        return out


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"
