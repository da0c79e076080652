"""Token-level explanations of a :class:`~ecomlib.text.transformer.TransformerClassifier`.

Integrated gradients on the word embeddings (default; or word occlusion): attributions of the
*log-odds* of the target class summed over the word pieces of each word, mapped back onto the
original text through the tokenizer's character offsets and rendered as highlighted HTML
(green pushes towards the target class, red away from it).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ecomlib.errors import ParameterError
from ecomlib.text.transformer import head_tail_lengths

__all__ = [
    "Explanation",
    "deletion_check",
    "explain",
    "explanations_html",
    "faithfulness",
    "render_html",
]


@dataclass
class Explanation:
    """Word spans of one text with their attribution towards ``target``."""

    text: str
    spans: list[tuple[int, int]]
    scores: np.ndarray
    p_target: float
    target: int
    method: str = "integrated_gradients"

    def top_words(self, n: int = 5) -> list[tuple[str, float]]:
        """The ``n`` words with the largest absolute attribution."""
        order = np.argsort(-np.abs(self.scores), kind="stable")[:n]
        return [(self.text[slice(*self.spans[i])], float(self.scores[i])) for i in order]


def _word_spans(encoding, keep: list[int]) -> tuple[list[tuple[int, int]], list[list[int]]]:
    """Group kept token positions into words: character spans and token positions."""
    words: dict[int, list[int]] = {}
    spans: dict[int, list[int]] = {}
    for pos in keep:
        wid = encoding.word_ids[pos] if hasattr(encoding, "word_ids") else None
        if wid is None:
            continue
        start, end = encoding.offsets[pos]
        words.setdefault(wid, []).append(pos)
        if wid in spans:
            spans[wid][1] = max(spans[wid][1], end)
        else:
            spans[wid] = [start, end]
    order = sorted(words)
    return [tuple(spans[w]) for w in order], [words[w] for w in order]


def explain(
    clf,
    texts: Sequence[str],
    target: int = 1,
    method: str = "integrated_gradients",
    steps: int = 16,
) -> list[Explanation]:
    """Word attributions of each text towards class ``target`` (its log-odds).

    Parameters
    ----------
    clf : a fitted :class:`~ecomlib.text.transformer.TransformerClassifier` (float, not int8).
    texts : the texts to explain; each is cut exactly as ``predict_proba`` reads it.
    target : the class whose log-odds (vs the other classes) is explained.
    method : ``"integrated_gradients"`` (Sundararajan et al., 2017): gradients averaged along a
        straight path from a baseline text whose words are all ``[PAD]`` (special tokens kept)
        to the real one, times the difference of the word embeddings; the word scores add up to
        the log-odds of the text minus that of the baseline, up to the path's discretisation.
        ``"occlusion"``: how much the log-odds fall when the word's pieces are removed (one
        forward pass per word, batched).
    steps : points on the path for integrated gradients (one batched pass).
    """
    if method not in ("integrated_gradients", "occlusion"):
        raise ParameterError(
            f"method must be 'integrated_gradients' or 'occlusion', got {method!r}."
        )
    if int(steps) < 1:
        raise ParameterError(f"steps must be >= 1, got {steps}.")
    clf._check_fitted()
    if clf.quantized_:
        raise RuntimeError("Explain the float model, not the int8-quantized copy.")
    net = clf.net_.to("cpu").eval()
    tok = clf.tokenizer_
    out = []
    for text in texts:
        text = str(text)
        enc = tok(text, truncation=True, max_length=100_000, return_offsets_mapping=True)
        encoding = enc.encodings[0]
        keep = _kept_positions(clf, len(enc["input_ids"]))
        ids = torch.tensor([[enc["input_ids"][i] for i in keep]])
        spans, groups = _word_spans(encoding, keep)
        pos_of = {orig: j for j, orig in enumerate(keep)}
        groups = [[pos_of[p] for p in g] for g in groups]
        if method == "integrated_gradients":
            special = torch.tensor([[encoding.special_tokens_mask[i] == 1 for i in keep]])
            attr = _integrated_gradients(net, ids, special, tok.pad_token_id, target, int(steps))
            scores = np.array([attr[g].sum() for g in groups], dtype=float)
        else:
            scores = _occlusion(net, ids[0], groups, target)
        out.append(
            Explanation(
                text=text,
                spans=spans,
                scores=scores,
                p_target=float(_probabilities(net, ids)[0, target]),
                target=target,
                method=method,
            )
        )
    return out


def faithfulness(clf, texts: Sequence[str], k: int = 3, seed: int = 0) -> dict:
    """:func:`deletion_check` of the integrated-gradients :func:`explain` of ``texts``: one
    call, so :func:`ecomlib.cache.step` can replay it."""
    return deletion_check(clf, explain(clf, texts), k=k, seed=seed)


def deletion_check(clf, explanations: Sequence[Explanation], k: int = 3, seed: int = 0) -> dict:
    """Are the explanations faithful? Remove from each text the ``k`` words credited most
    towards its predicted class, or ``k`` random words, and measure how far the predicted
    class's log-odds fall (mean over texts). A faithful explanation makes the first fall much
    larger than the second.

    Returns ``{"k", "texts", "top_k_fall", "random_k_fall"}``.
    """
    rng = np.random.default_rng(seed)
    originals, tops, randoms, signs = [], [], [], []
    for exp in explanations:
        n = len(exp.scores)
        if n == 0:
            continue
        sign = 1.0 if exp.p_target >= 0.5 else -1.0
        kk = min(int(k), n)
        originals.append(exp.text)
        tops.append(_without(exp, np.argsort(-sign * exp.scores, kind="stable")[:kk]))
        randoms.append(_without(exp, rng.choice(n, size=kk, replace=False)))
        signs.append(sign)
    if not originals:
        raise ParameterError("deletion_check needs explanations with at least one word.")
    target = explanations[0].target

    def odds(texts: list[str]) -> np.ndarray:
        p = np.clip(clf.predict_proba(texts)[:, target], 1e-7, 1 - 1e-7)
        return np.log(p) - np.log1p(-p)

    base, sign = odds(originals), np.array(signs)
    return {
        "k": int(k),
        "texts": len(originals),
        "top_k_fall": float(np.mean(sign * (base - odds(tops)))),
        "random_k_fall": float(np.mean(sign * (base - odds(randoms)))),
    }


def _without(exp: Explanation, words) -> str:
    """The text with the given words (indices into ``exp.spans``) cut out."""
    drop = sorted(exp.spans[i] for i in words)
    parts, cursor = [], 0
    for start, end in drop:
        parts.append(exp.text[cursor:start])
        cursor = end
    parts.append(exp.text[cursor:])
    return " ".join("".join(parts).split())


def _kept_positions(clf, n_tok: int) -> list[int]:
    """Token positions ``predict_proba`` reads, cut the same way (head + tail or head only)."""
    keep = list(range(n_tok))
    limit = clf.inference_length
    if n_tok > limit:
        if clf.truncation == "head_tail":
            head, tail = head_tail_lengths(limit, clf.head_share)
            keep = keep[:head] + keep[n_tok - tail :]
        else:
            keep = keep[: limit - 1] + [n_tok - 1]
    return keep


def _log_odds(logits: torch.Tensor, target: int) -> torch.Tensor:
    logp = torch.log_softmax(logits.float(), -1)
    rest = torch.cat([logp[:, :target], logp[:, target + 1 :]], 1)
    return logp[:, target] - torch.logsumexp(rest, 1)


def _probabilities(net, ids: torch.Tensor) -> torch.Tensor:
    mask = torch.ones_like(ids)
    with torch.inference_mode():
        return torch.softmax(net(ids, mask).float(), -1)


def _integrated_gradients(net, ids, special, pad_id: int, target: int, steps: int) -> np.ndarray:
    """Per-token integrated gradients of the target log-odds (baseline: words -> [PAD])."""
    embed = net.backbone.embeddings.word_embeddings
    with torch.no_grad():
        x = embed(ids)
        base = torch.where(special[..., None], x, embed(torch.full_like(ids, pad_id)))
    alphas = ((torch.arange(steps, dtype=x.dtype) + 0.5) / steps)[:, None, None]  # midpoints
    path = (base + alphas * (x - base)).requires_grad_(True)
    mask = torch.ones(steps, ids.shape[1], dtype=torch.long)
    with torch.enable_grad():
        logits = net.logits_from_states(net.token_states(None, mask, inputs_embeds=path), mask)
        _log_odds(logits, target).sum().backward()
    return (path.grad.mean(0) * (x - base)[0]).sum(-1).detach().numpy()


def _occlusion(net, ids: torch.Tensor, groups: list[list[int]], target: int) -> np.ndarray:
    """Fall of the target log-odds when each word's pieces are removed."""
    seqs = [ids] + [ids[[j for j in range(len(ids)) if j not in set(g)]] for g in groups]
    lengths = [len(s) for s in seqs]
    batch = torch.zeros(len(seqs), max(lengths), dtype=torch.long)
    mask = torch.zeros_like(batch)
    for i, seq in enumerate(seqs):
        batch[i, : len(seq)], mask[i, : len(seq)] = seq, 1
    with torch.inference_mode():
        odds = _log_odds(net(batch, mask), target).numpy().astype(float)
    return odds[0] - odds[1:]


def render_html(exp: Explanation, title: str | None = None, target_name: str | None = None) -> str:
    """Highlighted HTML of one explanation (opacity = |attribution| / max)."""
    scale = float(np.abs(exp.scores).max()) if len(exp.scores) else 1.0
    scale = scale or 1.0
    parts = []
    cursor = 0
    for (start, end), s in zip(exp.spans, exp.scores, strict=True):
        if start < cursor:
            continue
        gap = exp.text[cursor:start]
        if cursor and start - cursor > 200:  # the truncated middle of a long text
            gap = gap[:40] + " … " + gap[-40:]
        parts.append(html.escape(gap))
        alpha = min(1.0, abs(s) / scale)
        rgb = "34,139,34" if s > 0 else "220,20,60"
        parts.append(
            f'<span style="background: rgba({rgb},{alpha:.2f}); border-radius: 3px" '
            f'title="{s:+.3f}">{html.escape(exp.text[start:end])}</span>'
        )
        cursor = end
    parts.append(html.escape(exp.text[cursor:]))
    head = f"<b>{html.escape(title)}</b> " if title else ""
    return (
        f'<div style="margin: 6px 0; line-height: 1.7; font-family: sans-serif">'
        f"{head}<i>p({html.escape(target_name or f'class {exp.target}')}) = {exp.p_target:.2f}</i><br>{''.join(parts)}</div>"
    )


def explanations_html(
    explanations: Sequence[Explanation],
    titles: Sequence[str] | None = None,
    target_name: str | None = "great",
) -> str:
    """Several explanations, with a legend."""
    methods = ", ".join(dict.fromkeys(e.method.replace("_", " ") for e in explanations))
    legend = (
        '<div style="font-family: sans-serif; font-size: 90%">'
        '<span style="background: rgba(34,139,34,0.6)">green</span> pushes towards '
        '"great", <span style="background: rgba(220,20,60,0.6)">red</span> away from it '
        f"({methods}; stronger colour = larger effect).</div>"
    )
    titles = list(titles) if titles is not None else [None] * len(explanations)
    return legend + "".join(
        render_html(e, t, target_name) for e, t in zip(explanations, titles, strict=True)
    )
