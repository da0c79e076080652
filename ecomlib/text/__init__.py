"""Review NLP: cleaning, baselines, pretrained transformer (embed + fine-tune), explanation.

The stable entry point for other parts of the project is :func:`embed_texts`
(``(n, 384)`` float32, mean-pooled, L2-normalised MiniLM sentence vectors).
"""

from ecomlib.text.embeddings import (
    bucket_batches,
    default_model_dir,
    embed_texts,
    load_pretrained,
    mean_pool,
)

__all__ = ["bucket_batches", "default_model_dir", "embed_texts", "load_pretrained", "mean_pool"]
