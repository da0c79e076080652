"""TransformerClassifier: bucketed batches, fine-tuning through ecomlib.train, save/load,
int8 quantization and explanations. Uses a tiny randomly initialised BERT (any Hugging
Face-format directory works) with the packaged MiniLM tokenizer, so it runs in seconds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecomlib.errors import ParameterError
from ecomlib.text import (
    HiddenBatches,
    SemanticIndex,
    TokenBatches,
    TransformerClassifier,
    default_model_dir,
    deletion_check,
    explain,
    explanations_html,
    tokenize,
)

POS = [
    "great taste love it",
    "delicious and fresh, will buy again",
    "best coffee ever",
    "wonderful snack my kids love",
    "perfect, great value",
    "love love love this tea",
]
NEG = [
    "stale and awful",
    "terrible taste, waste of money",
    "arrived broken, bad",
    "bitter and disgusting",
    "not good at all",
    "horrible smell, threw it away",
]


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    from transformers import AutoTokenizer, BertConfig, BertModel

    path = tmp_path_factory.mktemp("tiny_bert")
    tok = AutoTokenizer.from_pretrained(str(default_model_dir()), local_files_only=True)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def fitted(tiny_model_dir):
    texts, y = POS * 3 + NEG * 3, [1] * 18 + [0] * 18
    clf = TransformerClassifier(
        tiny_model_dir,
        max_length=16,
        train_layers=1,
        epochs=8,
        batch_size=8,
        lr=1e-2,
        patience=None,
        device="cpu",
    )
    return clf.fit(texts, y)


def test_tokenize_truncation(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir), local_files_only=True)
    long = "start " + "middle " * 50 + "end"
    head = tokenize(tok, [long], max_length=10, truncation="head")[0]
    both = tokenize(tok, [long], max_length=10, truncation="head_tail")[0]
    assert len(head) == len(both) == 10
    assert head[0] == both[0] == tok.cls_token_id
    assert both[-1] == tok.sep_token_id
    assert tok.convert_ids_to_tokens(both[-2]) == "end"
    with pytest.raises(ParameterError):
        tokenize(tok, ["x"], truncation="middle")
    # a quarter head, three quarters tail (Sun et al. 2019)
    tail_heavy = tokenize(tok, [long], max_length=12, truncation="head_tail", head_share=0.25)[0]
    words = tok.convert_ids_to_tokens(tail_heavy)
    assert len(tail_heavy) == 12 and words[:3] == ["[CLS]", "start", "middle"]
    assert words[-2:] == ["end", "[SEP]"] and words[3:-2] == ["middle"] * 7
    short = tokenize(tok, ["just a few words"], max_length=12, head_share=0.25)[0]
    assert tok.convert_ids_to_tokens(short)[1:-1] == ["just", "a", "few", "words"]
    with pytest.raises(ParameterError, match="head_share"):
        tokenize(tok, ["x"], head_share=1.0)


def test_token_batches_keep_every_text_once():
    ids = [[1] * n for n in (5, 2, 9, 3, 7)]
    src = TokenBatches(ids, labels=[0, 1, 0, 1, 0])
    seen = []
    for x, m, y in src.batches(2, shuffle=False):
        assert x.shape == m.shape and len(y) == len(x)
        assert (m.sum(1) > 0).all()
        seen += m.sum(1).tolist()
    assert sorted(seen) == [2, 3, 5, 7, 9]
    order = src.order(2)
    assert [len(ids[i]) for i in order] == seen
    gen = torch.Generator().manual_seed(0)
    shuffled = [int(v) for _, m, _ in src.batches(2, shuffle=True, generator=gen) for v in m.sum(1)]
    assert sorted(shuffled) == [2, 3, 5, 7, 9]


def test_hidden_batches_pad_and_mask():
    hidden = [torch.ones(n, 4, dtype=torch.float16) for n in (3, 1)]
    ((h, m, y),) = list(HiddenBatches(hidden, [1, 0]).batches(4))
    assert h.shape == (2, 3, 4) and h.dtype == torch.float32
    assert m.tolist() == [[1, 1, 1], [1, 0, 0]] and y.tolist() == [1, 0]


def test_fit_predict_and_order(fitted):
    texts = POS + NEG
    proba = fitted.predict_proba(texts)
    assert proba.shape == (12, 2)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    acc = (proba.argmax(1) == np.array([1] * 6 + [0] * 6)).mean()
    assert acc >= 0.75  # learns the training texts: a broken loop stays near 0.5
    # output order equals input order, whatever the batching
    one = np.vstack([fitted.predict_proba([t]) for t in texts[:4]])
    np.testing.assert_allclose(proba[:4], one, atol=2e-2)
    assert list(fitted.history_.columns[:2]) == ["epoch", "train_loss"]
    assert fitted.embed(texts).shape == (12, 32)
    assert fitted.predict(texts).shape == (12,)


def test_save_load_round_trip(fitted, tmp_path):
    texts = POS + NEG
    path = fitted.save(tmp_path / "model")
    again = TransformerClassifier.load(path, device="cpu")
    np.testing.assert_allclose(again.predict_proba(texts), fitted.predict_proba(texts), atol=1e-6)
    assert again.max_length == 16 and again.classes_.tolist() == [0, 1]
    with pytest.raises(FileNotFoundError, match="ecomlib_classifier.json"):
        TransformerClassifier.load(tmp_path)


def test_quantized_copy_agrees(fitted):
    texts = POS + NEG
    q = fitted.quantize()
    assert q.quantized_ and not fitted.quantized_
    pq, pf = q.predict_proba(texts)[:, 1], fitted.predict_proba(texts)[:, 1]
    assert np.corrcoef(pq, pf)[0, 1] > 0.9
    with pytest.raises(RuntimeError):
        q.save("unused")


def test_full_fine_tune_path(tiny_model_dir):
    clf = TransformerClassifier(
        tiny_model_dir, max_length=16, train_layers=None, epochs=1, batch_size=8, device="cpu"
    )
    clf.fit(POS + NEG, [1] * 6 + [0] * 6, val_texts=POS[:2] + NEG[:2], val_labels=[1, 1, 0, 0])
    word = clf.net_.backbone.embeddings.word_embeddings.weight
    assert not word.requires_grad
    assert clf.n_parameters(trainable_only=True) < clf.n_parameters()


def test_bad_inputs(tiny_model_dir, fitted):
    clf = TransformerClassifier(tiny_model_dir, device="cpu")
    with pytest.raises(RuntimeError, match="not fitted"):
        clf.predict_proba(["x"])
    with pytest.raises(ParameterError, match="two classes"):
        clf.fit(["a", "b"], [1, 1])
    with pytest.raises(ParameterError, match="labels"):
        clf.fit(["a", "b"], [1])
    with pytest.raises(ParameterError, match="train_layers"):
        TransformerClassifier(tiny_model_dir, train_layers=5, device="cpu").fit(
            POS + NEG, [1] * 6 + [0] * 6
        )
    with pytest.raises(TypeError):
        fitted.predict_proba("a single string")


def test_explanations(fitted):
    exps = explain(fitted, ["great taste, love it", "awful " * 30 + "great"])
    assert [w for w, _ in exps[0].top_words(10)] and len(exps[0].spans) == len(exps[0].scores)
    words = {exps[0].text[slice(*s)] for s in exps[0].spans}
    assert {"great", "taste", "love", "it"} <= words
    html = explanations_html(exps, ["a", "b"])
    assert html.count("<span") >= 6 and "p(great)" in html


def _log_odds(p: float) -> float:
    return float(np.log(p) - np.log1p(-p))


def test_integrated_gradients_add_up_to_the_change_from_the_blank_baseline(fitted):
    text = "great taste, love it"
    exp = explain(fitted, [text], steps=64)[0]
    ids = fitted.tokenizer_(text)["input_ids"]
    pad = fitted.tokenizer_.pad_token_id
    blank = torch.tensor([[ids[0]] + [pad] * (len(ids) - 2) + [ids[-1]]])
    with torch.no_grad():
        p_blank = torch.softmax(fitted.net_(blank, torch.ones_like(blank)).float(), -1)[0, 1]
    change = _log_odds(exp.p_target) - _log_odds(float(p_blank))
    assert exp.method == "integrated_gradients"
    assert exp.scores.sum() == pytest.approx(change, abs=0.02 + 0.02 * abs(change))


def test_occlusion_is_the_fall_in_log_odds_without_the_word(fitted):
    text = "great taste, love it"
    exp = explain(fitted, [text], method="occlusion")[0]
    words = [text[slice(*s)] for s in exp.spans]
    i = words.index("love")
    without = _log_odds(float(fitted.predict_proba(["great taste, it"])[0, 1]))
    assert exp.scores[i] == pytest.approx(_log_odds(exp.p_target) - without, abs=0.01)
    assert "occlusion" in explanations_html([exp], ["a"])


def test_deletion_check_removes_the_credited_words(fitted):
    texts = ["great taste, love it", "stale and awful", "best coffee ever", "not good at all"]
    exps = explain(fitted, texts, method="occlusion")
    check = deletion_check(fitted, exps, k=1, seed=0)
    assert check["k"] == 1 and check["texts"] == 4
    # with k=1 the top word's fall is exactly its occlusion score, the largest of each text
    best = [max(e.scores * (1 if e.p_target >= 0.5 else -1)) for e in exps]
    assert check["top_k_fall"] == pytest.approx(np.mean(best), abs=0.02)
    assert check["top_k_fall"] >= check["random_k_fall"]
    with pytest.raises(ParameterError, match="at least one word"):
        deletion_check(fitted, [])


def test_explain_refuses_unknown_methods(fitted):
    with pytest.raises(ParameterError, match="method"):
        explain(fitted, ["good"], method="gradient_x_input")
    with pytest.raises(ParameterError, match="steps"):
        explain(fitted, ["good"], steps=0)


def test_semantic_index():
    emb = np.eye(3, dtype=np.float32)
    idx = SemanticIndex(emb, ["a", "b", "c"], encoder=lambda q: np.array([[0, 1, 0.1]]))
    hits = idx.query("anything", k=2)
    assert hits["text"].tolist() == ["b", "c"]
    with pytest.raises(ValueError):
        SemanticIndex(emb, ["a"])
    with pytest.raises(ValueError):
        idx.query("  ")


def test_discriminative_learning_rates(tiny_model_dir):
    clf = TransformerClassifier(
        tiny_model_dir,
        max_length=16,
        train_layers=None,
        epochs=1,
        batch_size=8,
        lr=1e-3,
        head_lr_scale=10.0,
        layer_decay=0.5,
        device="cpu",
    )
    texts, y = POS + NEG, [1] * 6 + [0] * 6
    clf.fit(texts, y)
    assert len(clf.val_index_) == 2 and set(clf.val_index_) <= set(range(12))
    groups = clf._param_groups(clf.net_)
    scales = [g["lr_scale"] for g in groups]
    assert scales == [1.0, 0.5, 10.0, 0.25]  # top block, block below, head, embeddings
    assert groups[2]["params"][0] is clf.net_.head.weight
    assert clf.history_["lr"].max() <= 1e-3  # the history follows the top block, not the head
    # saved with the model
    assert "head_lr_scale=10.0" in repr(clf) and "layer_decay=0.5" in repr(clf)
    with pytest.raises(ParameterError, match="layer_decay"):
        TransformerClassifier(tiny_model_dir, layer_decay=1.5, device="cpu").fit(texts, y)
    with pytest.raises(ParameterError, match="head_lr_scale"):
        TransformerClassifier(tiny_model_dir, head_lr_scale=0, device="cpu").fit(texts, y)


def test_predict_max_length_reads_longer_texts_than_training(fitted, tiny_model_dir, monkeypatch):
    import copy

    long_review = " ".join(["stale"] * 20 + ["filler"] * 40 + ["great"] * 20)
    assert fitted.inference_length == fitted.max_length == 16  # default: the training length
    wide = copy.copy(fitted)
    wide.predict_max_length = 64
    assert wide.inference_length == 64
    assert len(wide._encode([long_review])[0]) == 64
    assert len(wide._encode([long_review], training=True)[0]) == 16
    # the longer cut changes what the model reads, so its prediction
    assert not np.allclose(wide.predict_proba([long_review]), fitted.predict_proba([long_review]))
    # explanations cover exactly the tokens the prediction reads
    assert len(explain(wide, [long_review])[0].scores) > len(
        explain(fitted, [long_review])[0].scores
    )
    # capped at the encoder's position limit (128 for the tiny model)
    wide.predict_max_length = 100_000
    assert wide.inference_length == 128
    assert wide.predict_proba([long_review * 5]).shape == (1, 2)
    with pytest.raises(ParameterError, match="predict_max_length"):
        TransformerClassifier(tiny_model_dir, predict_max_length=4, device="cpu").fit(
            POS + NEG, [1] * 6 + [0] * 6
        )


def test_predict_max_length_survives_save_load(tiny_model_dir, tmp_path):
    clf = TransformerClassifier(
        tiny_model_dir,
        max_length=16,
        predict_max_length=48,
        train_layers=1,
        epochs=1,
        batch_size=8,
        device="cpu",
    ).fit(POS + NEG, [1] * 6 + [0] * 6)
    again = TransformerClassifier.load(clf.save(tmp_path / "m"), device="cpu")
    assert again.predict_max_length == 48 and again.inference_length == 48


def test_bf16_autocast_only_where_the_cpu_has_amx(fitted, monkeypatch):
    from ecomlib.text import transformer

    # default (None): bf16 follows the hardware probe; True / False force it
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert transformer.cpu_bf16_is_fast() and TransformerClassifier().uses_bf16
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert not transformer.cpu_bf16_is_fast() and not TransformerClassifier().uses_bf16
    assert TransformerClassifier(bf16=True).uses_bf16
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported", raising=False)
    assert not transformer.cpu_bf16_is_fast()  # a torch without the probe: float32

    # the choice reaches inference: float32 and bf16 autocast agree closely on the
    # same weights, and neither path is broken
    texts = POS + NEG
    was = fitted.bf16
    try:
        fitted.bf16 = False
        p32 = fitted.predict_proba(texts)[:, 1]
        fitted.bf16 = True
        p16 = fitted.predict_proba(texts)[:, 1]
    finally:
        fitted.bf16 = was
    assert not np.array_equal(p32, p16)  # bf16 rounding shows: the switch took effect
    np.testing.assert_allclose(p32, p16, atol=0.05)
