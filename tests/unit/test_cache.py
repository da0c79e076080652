"""ecomlib.cache: one computation per distinct input, replayed exactly, bypassable, bounded."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from ecomlib import cache

CALLS: list[int] = []


def _work(frame: pd.DataFrame, scale: float = 1.0) -> pd.DataFrame:
    CALLS.append(1)
    return frame.assign(y=frame["x"] * scale + np.random.default_rng(0).normal(size=len(frame)))


@pytest.fixture(autouse=True)
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ECOM_CACHE", raising=False)
    CALLS.clear()
    return tmp_path / "cache"


def test_a_step_runs_once_per_input_and_replays_the_same_result():
    frame = pd.DataFrame({"x": np.arange(100.0)})
    fresh = _work(frame, scale=2.0)
    CALLS.clear()
    first = cache.step("work", _work, frame, scale=2.0)
    again = cache.step("work", _work, frame, scale=2.0)
    assert len(CALLS) == 1
    pd.testing.assert_frame_equal(first, fresh)
    pd.testing.assert_frame_equal(again, fresh)
    cache.step("work", _work, frame, scale=3.0)  # another parameter
    cache.step("work", _work, frame.assign(x=frame["x"] + 1), scale=2.0)  # other data
    assert len(CALLS) == 3
    rows = cache.entries()
    assert [r["step"] for r in rows] == ["work"] * 3 and all(r["mb"] > 0 for r in rows)


def test_the_cache_can_be_bypassed_and_cleared(monkeypatch):
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    monkeypatch.setenv("ECOM_CACHE", "0")
    cache.step("work", _work, frame)
    cache.step("work", _work, frame)
    assert len(CALLS) == 2 and cache.entries() == []
    monkeypatch.setenv("ECOM_CACHE", "1")
    cache.step("work", _work, frame)
    assert cache.clear() == 1 and cache.entries() == []


def test_the_store_is_trimmed_to_its_size_bound(monkeypatch):
    monkeypatch.setenv("ECOM_CACHE_MB", "1.5")  # room for one 0.8 MB result, not two
    for i in range(3):
        cache.step("big", _work, pd.DataFrame({"x": np.full(50_000, float(i))}))
    assert len(cache.entries()) == 1


def test_torch_modules_key_by_weights_the_same_in_every_process():
    code = (
        "import torch; from ecomlib import cache\n"
        "torch.manual_seed(0); m = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())\n"
        "print(cache.key('fit', print, (m,), {'device': torch.device('cpu')}))"
    )
    keys = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    }
    assert len(keys) == 1
    import torch

    torch.manual_seed(1)
    other = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())
    assert cache.key("fit", print, (other,), {"device": torch.device("cpu")}) not in keys


# ------------------------------------------------------------------ the notebooks' cached steps
def _timeless(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame without its measured-seconds columns (the one thing a rerun changes)."""
    return frame.drop(columns=[c for c in frame if "seconds" in str(c)])


def _replayed_equals_fresh(name, fn, make_args, compare):
    """Fresh call (cache off) vs. a stored and then replayed call: identical results."""
    import os

    os.environ["ECOM_CACHE"] = "0"
    try:
        fresh = fn(*make_args())
    finally:
        os.environ.pop("ECOM_CACHE")
    cache.step(name, fn, *make_args())
    assert not cache.last(name).hit
    replayed = cache.step(name, fn, *make_args())
    assert cache.last(name).hit
    compare(fresh, replayed)


def test_cnn_fit_step_replays_what_a_fresh_fit_gives():
    import torch

    from ecomlib import vision

    rng = np.random.default_rng(0)
    y = np.arange(48) % 2
    x = rng.integers(0, 255, size=(48, 12, 12)).astype(np.uint8)

    def args():
        torch.manual_seed(0)
        model = vision.ImageClassifier("resnet", ["a", "b"], image_size=12, width=4)
        return model, x, y

    def fit(model, x, y):
        return vision.train_classifier(model, x, y, epochs=1, batch_size=16, seed=0, device="cpu")

    def same(a, b):  # everything but the measured seconds
        pd.testing.assert_frame_equal(_timeless(a.history), _timeless(b.history))
        np.testing.assert_array_equal(
            vision.predict_proba(a.model, x, device="cpu"),
            vision.predict_proba(b.model, x, device="cpu"),
        )

    _replayed_equals_fresh("cnn_fit", fit, args, same)


def test_embedding_step_replays_what_a_fresh_embedding_gives():
    from ecomlib import text

    texts = ["great coffee, would buy again", "arrived broken", "ok"]
    _replayed_equals_fresh(
        "review_embeddings_test",
        text.embed_texts,
        lambda: (texts, None, 32, 64, "cpu"),
        np.testing.assert_array_equal,
    )


TRAIN = ["love it", "great taste", "awful", "broken on arrival"] * 3
LABELS = [1, 1, 0, 0] * 3


def _tiny_bert(folder) -> None:
    """A 2-block BERT with the packaged MiniLM's tokenizer, saved into ``folder``."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from ecomlib import text

    tok = AutoTokenizer.from_pretrained(str(text.default_model_dir()), local_files_only=True)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(folder)
    tok.save_pretrained(folder)


def test_finetune_step_replays_what_a_fresh_fit_gives(tmp_path):
    from ecomlib import text

    _tiny_bert(tmp_path)
    train, labels = TRAIN, LABELS

    def args():
        clf = text.TransformerClassifier(
            str(tmp_path), max_length=16, epochs=1, batch_size=4, device="cpu", seed=0
        )
        return clf, pd.Series(train), labels, pd.Series(["so good", "terrible"])

    def same(a, b):
        np.testing.assert_array_equal(a[1], b[1])  # the test predictions
        pd.testing.assert_frame_equal(_timeless(a[0].history_), _timeless(b[0].history_))
        np.testing.assert_array_equal(a[0].predict_proba(train), b[0].predict_proba(train))

    _replayed_equals_fresh("finetune", text.fit_and_predict, args, same)
    # the key of an unfitted classifier is the same in another process (warm runs are)
    code = (
        f"from ecomlib import cache, text; clf = text.TransformerClassifier({str(tmp_path)!r},"
        " max_length=16, epochs=1, batch_size=4, device='cpu', seed=0)\n"
        "print(cache.key('finetune', text.fit_and_predict, (clf, [1]), {}))"
    )
    there = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    here = cache.key("finetune", text.fit_and_predict, (args()[0], [1]), {})
    assert there == here


def test_int8_and_explanation_steps_replay_what_fresh_calls_give(tmp_path):
    """Notebook 04's int8 comparison and faithfulness check: replayed = fresh (the int8
    table's throughput is a measurement, everything else identical)."""
    from ecomlib import text

    _tiny_bert(tmp_path)
    clf = text.TransformerClassifier(
        str(tmp_path), max_length=16, epochs=1, batch_size=4, device="cpu", seed=0
    ).fit(TRAIN, np.array(LABELS))
    p = clf.predict_proba(TRAIN)[:, 1]

    def same_int8(a, b):
        pd.testing.assert_frame_equal(
            a[0].drop(columns="reviews_per_s"), b[0].drop(columns="reviews_per_s")
        )
        np.testing.assert_array_equal(a[1], b[1])

    _replayed_equals_fresh(
        "int8_speed", text.int8_comparison, lambda: (clf, TRAIN, np.array(LABELS), p, 4), same_int8
    )
    _replayed_equals_fresh(
        "explanation_check", text.faithfulness, lambda: (clf, TRAIN[:4], 1, 0), _equal
    )


def test_a_tokenizer_keys_by_its_vocabulary_not_its_last_call():
    """A Hugging Face tokenizer's pickle carries the truncation of its last call: a fitted
    text classifier must key the same whatever it tokenised last (notebook 04's warm run)."""
    from ecomlib import text

    tok, _ = text.load_pretrained(None)
    before = cache.key("t", _work, (tok,), {})
    tok(["hello world"], truncation=True, max_length=16)
    assert cache.key("t", _work, (tok,), {}) == before


def test_an_array_keys_by_its_values_not_its_strides():
    """A column of a (n, 2) array (a classifier's positive-class probabilities) keys like its
    contiguous copy, which is what the replayed step returns in a warm run."""
    probs = np.random.default_rng(0).random((20, 2)).astype(np.float32)
    view = probs[:, 1]
    assert cache.key("t", _work, (view,), {}) == cache.key("t", _work, (view.copy(),), {})


def _equal(a, b) -> None:
    assert a == b


def test_forecast_backtest_step_replays_what_a_fresh_backtest_gives():
    from ecomlib import forecast as fc
    from ecomlib.forecast.datasets import retail_series
    from ecomlib.forecast.zoo import make_models

    df = retail_series("souvenirs")

    def args():
        models = make_models(
            ["SeasonalNaive", "AutoETS", "LightGBM"],
            h=12,
            freq="MS",
            device="cpu",
            seed=0,
            lgbm_trees=30,
        )
        return df, models

    def backtest(df, models):
        return fc.backtest_and_select(
            df, models, h=12, n_windows=1, step=12, season=12, show_progress=False
        )

    def same(a, b):
        for x, y in zip((a[0], a[3]), (b[0], b[3]), strict=True):
            pd.testing.assert_frame_equal(x, y)
        assert (
            a[2]
            .table.drop(columns=[c for c in a[2].table if "seconds" in c])
            .equals(b[2].table.drop(columns=[c for c in b[2].table if "seconds" in c]))
        )

    _replayed_equals_fresh("forecast_backtest", backtest, args, same)


def test_clv_study_step_replays_what_a_fresh_study_gives():
    from test_clv import START, synthetic  # tests/unit is on the path (rootdir conftest)

    from ecomlib.clv import study as cs

    days = synthetic(200, weeks=30)

    def args():
        return days, START + pd.Timedelta(days=15 * 7 - 1), 15

    def study(days, cal_end, weeks):
        return cs.run_study(
            days, cal_end, weeks, ["rate", "BG/NBD", "LightGBM"], n_boot=50, seed=0, lgbm_trees=20
        )

    def same(a, b):
        pd.testing.assert_frame_equal(_timeless(a.board), _timeless(b.board))
        for name in a.preds:
            pd.testing.assert_frame_equal(a.preds[name], b.preds[name])
        assert a.best == b.best and a.paired == b.paired

    _replayed_equals_fresh("clv_study", study, args, same)


def test_recommenders_step_replays_the_fitted_models_and_their_board():
    """Notebook 05's step: the board, the lists and the fitted models, equal to a fresh run."""
    from ecomlib import recommend as rec

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "user_id": [f"u{u}" for u in range(30) for _ in range(8)],
            "item_id": rng.integers(0, 25, size=240),
            "weight": 1.0,
        }
    ).drop_duplicates(["user_id", "item_id"])
    train, test = rec.per_user_random_split(frame, 0.75, seed=1)

    def args():
        models = rec.model_zoo(
            "movielens", ["popularity", "ease", "two_tower"], epochs=1, device="cpu", seed=0
        )
        return models, rec.Interactions(train), test

    def compare(fresh, replayed):
        pd.testing.assert_frame_equal(
            fresh[0].drop(columns=["fit_s", "predict_s"]),
            replayed[0].drop(columns=["fit_s", "predict_s"]),
        )
        for name in fresh[1]:
            pd.testing.assert_frame_equal(fresh[1][name], replayed[1][name])
        users = test["user_id"].unique()[:5]
        pd.testing.assert_frame_equal(
            fresh[2]["two_tower"].recommend(users, k=3),
            replayed[2]["two_tower"].recommend(users, k=3),
        )

    _replayed_equals_fresh("recommenders", rec.fit_and_evaluate, args, compare)


def test_a_data_source_keys_by_its_files(tmp_path):
    """A step given a source (the ranker reads promotions through it) recomputes when a file
    of the source changes, not only when the frames passed in do."""
    import os

    from ecomlib.data import open_source

    head = "basket_id,household_id,product_id,quantity,sales_value,transaction_timestamp\n"
    (tmp_path / "orders.csv").write_text(head + "1,a,p,1,2.5,2024-01-01 10:00:00\n")
    (tmp_path / "shop.yaml").write_text(
        "name: s\ntimezone: UTC\ntables:\n  transactions: {path: orders.csv}\n"
    )
    before = cache.key("fit", print, (open_source(tmp_path / "shop.yaml"),), {})
    assert cache.key("fit", print, (open_source(tmp_path / "shop.yaml"),), {}) == before
    (tmp_path / "orders.csv").write_text(head + "1,a,p,2,5.0,2024-01-01 10:00:00\n")
    os.utime(tmp_path / "orders.csv", (1e9, 1e9))
    assert cache.key("fit", print, (open_source(tmp_path / "shop.yaml"),), {}) != before
