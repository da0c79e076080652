"""Token-level explanations of a :class:`~ecomlib.text.transformer.TransformerClassifier`.

Gradient x input on the word embeddings: one forward and one backward pass per text (cheap),
attributions of the *log-odds* of the target class summed over the word pieces of each word,
mapped back onto the original text through the tokenizer's character offsets and rendered as
highlighted HTML (green pushes towards the target class, red away from it).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Explanation", "explain", "explanations_html", "render_html"]


@dataclass
class Explanation:
    """Word spans of one text with their attribution towards ``target``."""

    text: str
    spans: list[tuple[int, int]]
    scores: np.ndarray
    p_target: float
    target: int

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


def explain(clf, texts: Sequence[str], target: int = 1) -> list[Explanation]:
    """Gradient x input attributions for each text towards class ``target``."""
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
        n_tok = len(enc["input_ids"])
        keep = list(range(n_tok))
        limit = clf.inference_length  # the tokens predict_proba reads, cut the same way
        if n_tok > limit:
            if clf.truncation == "head_tail":
                head = min(limit - 2, max(2, int(round(limit * clf.head_share))))
                keep = keep[:head] + keep[n_tok - (limit - head) :]
            else:
                keep = keep[: limit - 1] + [n_tok - 1]
        ids = torch.tensor([[enc["input_ids"][i] for i in keep]])
        mask = torch.ones_like(ids)
        with torch.enable_grad():
            emb = net.backbone.embeddings.word_embeddings(ids).detach().requires_grad_(True)
            states = net.token_states(None, mask, inputs_embeds=emb)
            logits = net.logits_from_states(states, mask)[0]
            logp = torch.log_softmax(logits.float(), -1)
            score = logp[target] - torch.logsumexp(
                torch.cat([logp[:target], logp[target + 1 :]]), 0
            )
            score.backward()
        attr = (emb.grad * emb).sum(-1)[0].detach().numpy()
        pos_of = {orig: j for j, orig in enumerate(keep)}
        spans, groups = _word_spans(encoding, keep)
        scores = np.array([sum(attr[pos_of[p]] for p in g) for g in groups], dtype=float)
        out.append(
            Explanation(
                text=text,
                spans=spans,
                scores=scores,
                p_target=float(torch.softmax(logits.detach().float(), -1)[target]),
                target=target,
            )
        )
    return out


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
    legend = (
        '<div style="font-family: sans-serif; font-size: 90%">'
        '<span style="background: rgba(34,139,34,0.6)">green</span> pushes towards '
        '"great", <span style="background: rgba(220,20,60,0.6)">red</span> away from it '
        "(gradient x input; stronger colour = larger effect).</div>"
    )
    titles = list(titles) if titles is not None else [None] * len(explanations)
    return legend + "".join(
        render_html(e, t, target_name) for e, t in zip(explanations, titles, strict=True)
    )
