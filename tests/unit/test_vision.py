"""Unit tests for ecomlib.vision (and the Fashion-MNIST IDX reader it relies on)."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from ecomlib import vision
from ecomlib.data import read_idx
from ecomlib.errors import DataError, ParameterError

CLASSES = ("left", "right")


def _write_idx(path, array: np.ndarray, gz: bool = True, cut: int = 0) -> None:
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if cut:
        payload = payload[:-cut]
    opener = gzip.open if gz else open
    with opener(path, "wb") as fh:
        fh.write(payload)


def _toy(n: int = 64, size: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two separable classes: a bright bar on the left half or on the right half."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.integers(0, 40, size=(n, size, size)).astype(np.uint8)
    for i, label in enumerate(y):
        cols = slice(1, size // 2 - 1) if label == 0 else slice(size // 2 + 1, size - 1)
        x[i, 2:-2, cols] = 220
    return x, y


# ------------------------------------------------------------------ IDX reader
def test_read_idx_roundtrip(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "a.gz", arr)
    _write_idx(tmp_path / "b", arr, gz=False)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), arr)
    np.testing.assert_array_equal(read_idx(tmp_path / "b"), arr)


def test_read_idx_truncated_file_is_a_clear_error(tmp_path):
    _write_idx(tmp_path / "t.gz", np.zeros((5, 4, 4), dtype=np.uint8), cut=7)
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "t.gz")


def test_read_idx_bad_magic_and_broken_gzip(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(DataError, match="magic"):
        read_idx(tmp_path / "bad")
    (tmp_path / "broken.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError):
        read_idx(tmp_path / "broken.gz")


# ------------------------------------------------------------------ image folder loader
def _photo_tree(root, corrupt: bool = True):
    for cls, value in (("shirts", 30), ("shoes", 200)):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            img = Image.new("RGB", (40 + i, 30), (value, value // 2, 10))
            img.save(root / cls / f"{i}.{'png' if i % 2 else 'jpg'}")
    (root / "shoes" / "notes.txt").write_text("not an image")
    if corrupt:
        (root / "shirts" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is no jpeg")


def test_image_folder_skips_and_counts_corrupt_files(tmp_path, caplog):
    caplog.set_level("INFO", logger="ecomlib.vision.data")  # reported, not warned: in .skipped
    _photo_tree(tmp_path)
    folder = vision.load_image_folder(tmp_path, size=16)
    assert folder.classes == ("shirts", "shoes")
    assert folder.images.shape == (6, 16, 16) and folder.images.dtype == np.uint8
    assert folder.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert len(folder.skipped) == 1 and folder.skipped[0][0].name == "broken.jpg"
    assert "1 unreadable" in caplog.text
    assert folder.images[0].mean() < folder.images[-1].mean()  # dark shirts, bright shoes


def test_image_folder_rgb_resize_and_invert(tmp_path):
    _photo_tree(tmp_path, corrupt=False)
    rgb = vision.load_image_folder(tmp_path, size=(10, 12), mode="RGB")
    assert rgb.images.shape == (6, 10, 12, 3) and not rgb.skipped
    inv = vision.load_image_folder(tmp_path, size=(10, 12), mode="RGB", invert=True)
    np.testing.assert_array_equal(inv.images, 255 - rgb.images)
    assert vision.to_tensor(rgb.images).shape == (6, 3, 10, 12)


def test_image_folder_bad_input(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        vision.load_image_folder(tmp_path / "missing")
    with pytest.raises(DataError, match="no class sub-folders"):
        vision.load_image_folder(tmp_path)
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "x.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match="No readable images"):
        vision.load_image_folder(tmp_path)
    with pytest.raises(ParameterError):
        vision.load_image_folder(tmp_path, mode="CMYK")


# ------------------------------------------------------------------ tensors
def test_to_tensor_shapes_and_scale():
    grey = np.full((2, 5, 6), 255, dtype=np.uint8)
    t = vision.to_tensor(grey)
    assert t.shape == (2, 1, 5, 6) and t.dtype == torch.float32 and float(t.max()) == 1.0
    assert vision.to_tensor(np.zeros((2, 5, 6, 3), np.uint8)).shape == (2, 3, 5, 6)
    with pytest.raises(ParameterError):
        vision.to_tensor(np.zeros((5, 6), np.uint8))
    assert vision.resize(t, 10).shape == (2, 1, 10, 10)


def test_subsample_is_stratified():
    y = np.repeat(np.arange(4), 50)
    x = np.arange(200)
    xs, ys = vision.subsample(x, y, 40, seed=1)
    assert len(xs) == 40 and np.bincount(ys).tolist() == [10, 10, 10, 10]
    assert vision.subsample(x, y, None)[0] is x


# ------------------------------------------------------------------ augmentation
def test_augment_shapes_and_determinism():
    x = torch.rand(16, 1, 12, 12)
    y = torch.arange(16)
    aug = vision.Augment(flip=True, shift=2, erase=0.5)
    out1 = aug((x, y), torch.Generator().manual_seed(7))
    out2 = aug((x, y), torch.Generator().manual_seed(7))
    out3 = aug((x, y), torch.Generator().manual_seed(8))
    assert out1[0].shape == x.shape and out1[1] is y
    assert torch.equal(out1[0], out2[0])
    assert not torch.equal(out1[0], out3[0])
    assert not torch.equal(out1[0], x)


def test_flip_mirrors_or_keeps_each_image():
    x = torch.rand(32, 1, 6, 6)
    out = vision.random_flip(x, torch.Generator().manual_seed(0))
    same = (out == x).flatten(1).all(1)
    mirrored = (out == x.flip(-1)).flatten(1).all(1)
    assert bool((same | mirrored).all()) and same.any() and mirrored.any()


def test_shift_moves_content_without_loss():
    x = torch.zeros(8, 1, 10, 10)
    x[:, :, 4:6, 4:6] = 1.0  # a centred square survives any shift of <= 2 pixels
    out = vision.random_shift(x, torch.Generator().manual_seed(0), pad=2)
    assert torch.allclose(out.sum(dim=(1, 2, 3)), torch.full((8,), 4.0))
    assert not torch.equal(out, x)


def test_random_erasing_probability_bounds():
    x = torch.zeros(20, 1, 16, 16)
    never = vision.random_erasing(x, torch.Generator().manual_seed(0), p=0.0)
    assert torch.equal(never, x)
    always = vision.random_erasing(x, torch.Generator().manual_seed(0), p=1.0, scale=(0.1, 0.2))
    changed = (always != 0).flatten(1).float().mean(1)
    assert bool((changed > 0).all()) and bool((changed <= 0.35).all())
    with pytest.raises(ParameterError):
        vision.Augment(erase=1.5)
    with pytest.raises(ParameterError):
        vision.Augment(shift=-1)


# ------------------------------------------------------------------ models and training
@pytest.mark.parametrize("arch", ["seed", "resnet"])
@pytest.mark.parametrize(("channels", "size"), [(1, 28), (3, 20)])
def test_models_output_logits(arch, channels, size):
    model = vision.ImageClassifier(
        arch, ("a", "b", "c"), in_channels=channels, image_size=size, width=4
    )
    assert model(torch.rand(2, channels, size, size)).shape == (2, 3)
    assert vision.count_parameters(model) > 0


def test_resnet_heads():
    x = torch.rand(2, 1, 28, 28)
    for head in ("dense", "gmp"):
        net = vision.ResNetCNN(width=4, head=head)
        assert net(x).shape == (2, 10)
    with pytest.raises(ParameterError, match="head.*got 'avg'"):
        vision.ResNetCNN(head="avg")


def test_bad_model_parameters():
    with pytest.raises(ParameterError, match="Unknown model"):
        vision.ImageClassifier("vgg", CLASSES)
    with pytest.raises(ParameterError, match="2 classes"):
        vision.ImageClassifier("seed", ("only",))
    with pytest.raises(ParameterError, match="The 'std' parameter of ImageClassifier .*; got 0"):
        vision.ImageClassifier("seed", CLASSES, std=0)


def test_training_decreases_loss_and_learns():
    x, y = _toy(96)
    model = vision.ImageClassifier("resnet", CLASSES, image_size=12, width=4)
    result = vision.train_classifier(
        model,
        x,
        y,
        epochs=4,
        batch_size=16,
        lr=1e-2,
        seed=0,
        augment=vision.Augment(flip=False, shift=1),
    )
    hist = result.history
    assert len(hist) == 4 and {"train_loss", "val_loss", "val_metric"} <= set(hist.columns)
    assert hist["train_loss"].iloc[-1] < hist["train_loss"].iloc[0]
    probs = vision.predict_proba(result.model, x)
    assert (probs.argmax(1) == y).mean() >= 0.9
    assert result.samples_per_second > 0


def test_training_rejects_bad_labels_and_channels():
    x, y = _toy(16)
    model = vision.ImageClassifier("seed", CLASSES, image_size=12, width=4)
    with pytest.raises(DataError, match="Labels"):
        vision.train_classifier(model, x, y + 5, epochs=1)
    with pytest.raises(DataError, match="labels"):
        vision.train_classifier(model, x, y[:3], epochs=1)
    with pytest.raises(ParameterError, match="channel"):
        vision.train_classifier(model, np.zeros((16, 12, 12, 3), np.uint8), y, epochs=1)


def test_save_load_round_trip(tmp_path):
    x, y = _toy(32)
    model = vision.ImageClassifier("resnet", CLASSES, image_size=12, width=4, mean=0.2, std=0.3)
    model = vision.train_classifier(model, x, y, epochs=1, batch_size=16).model
    path = vision.save_model(model, tmp_path / "m" / "model.pt")
    loaded = vision.load_model(path)
    assert loaded.classes == CLASSES and loaded.config == model.config
    np.testing.assert_allclose(
        vision.predict_proba(loaded, x, device="cpu"),
        vision.predict_proba(model, x, device="cpu"),
        atol=1e-6,
    )
    probs = vision.predict_proba(loaded, x)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)


def test_load_model_bad_files(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        vision.load_model(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(DataError):
        vision.load_model(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(DataError, match="not a model saved"):
        vision.load_model(tmp_path / "other.pt")


# ------------------------------------------------------------------ evaluation
def test_evaluate_and_confident_mistakes():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7], [0.95, 0.05]])
    y = np.array([0, 1, 1, 0, 1])
    ev = vision.evaluate(probs, y, CLASSES)
    assert ev.accuracy == pytest.approx(0.4)
    assert ev.confusion.loc["right", "left"] == 2 and ev.confusion.to_numpy().sum() == 5
    assert ev.per_class.loc["left", "recall"] == pytest.approx(0.5)
    assert ev.per_class.loc["right", "precision"] == pytest.approx(0.5)
    np.testing.assert_allclose(ev.confusion_share().sum(1), 1.0)
    worst = vision.confident_mistakes(probs, y, k=2)
    assert worst["index"].tolist() == [4, 3]
    assert worst["confidence"].tolist() == [0.95, 0.7]
    with pytest.raises(ParameterError):
        vision.evaluate(probs[:3], y, CLASSES)


def test_figures_render():
    x, y = _toy(12)
    fig = vision.class_examples(x, y, CLASSES, per_class=3)
    fig2 = vision.image_grid(x[:5], titles=list("abcde"), overlays=np.random.rand(5, 12, 12))
    assert fig.axes and fig2.axes
    import matplotlib.pyplot as plt

    plt.close("all")


# ------------------------------------------------------------------ Grad-CAM and compression
@pytest.fixture(scope="module")
def trained_toy():
    x, y = _toy(128)
    model = vision.ImageClassifier("resnet", CLASSES, image_size=12, width=4)
    result = vision.train_classifier(model, x, y, epochs=4, batch_size=16, lr=1e-2, seed=1)
    return result.model, x, y


@pytest.mark.parametrize("arch", ["seed", "resnet"])
def test_grad_cam_shapes(arch):
    x, _ = _toy(4)
    model = vision.ImageClassifier(arch, CLASSES, image_size=12, width=4)
    cams = vision.grad_cam(model, x)
    assert cams.shape == (4, 12, 12)
    assert cams.min() >= 0.0 and cams.max() <= 1.0 + 1e-6
    assert not any(p.grad is not None for p in model.parameters())


def test_grad_cam_looks_at_the_bar(trained_toy):
    # each class must be explained by its own bar (classic per-channel weighting managed only
    # one of the two classes behind this positional head)
    model, x, y = trained_toy
    cams = vision.grad_cam(model, x[:32], target=y[:32])
    half = x.shape[-1] // 2
    left = cams[:, :, :half].mean(axis=(1, 2))
    right = cams[:, :, half:].mean(axis=(1, 2))
    on_bar = np.where(y[:32] == 0, left > right, right > left)
    assert min(on_bar[y[:32] == 0].mean(), on_bar[y[:32] == 1].mean()) >= 0.9


def test_grad_cam_maps_are_not_empty_behind_a_positional_head(trained_toy):
    # the resnet's dense head sees the whole feature map: per-channel averaged gradients mix
    # positions, element-wise weighting keeps each position's own share of the class score
    model, x, y = trained_toy
    cams = vision.grad_cam(model, x[:64], target=y[:64])
    assert (cams.reshape(64, -1).max(1) > 0.99).all()


def test_grad_cam_weightings_agree_behind_global_average_pooling():
    torch.manual_seed(0)
    conv = torch.nn.Sequential(torch.nn.Conv2d(1, 6, 3, padding=1), torch.nn.ReLU())
    model = torch.nn.Sequential(
        conv, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(6, 2)
    )
    x, _ = _toy(8)
    element = vision.grad_cam(model, x, target=np.zeros(8, int), layer=conv)
    channel = vision.grad_cam(model, x, target=np.zeros(8, int), layer=conv, weighting="channel")
    np.testing.assert_allclose(element, channel, atol=1e-5)
    with pytest.raises(ParameterError, match="weighting"):
        vision.grad_cam(model, x, layer=conv, weighting="pixel")


def test_quantization_keeps_predictions(trained_toy):
    model, x, y = trained_toy
    static = vision.quantize_static(model, x[:64])
    dynamic = vision.quantize_dynamic(model)
    table = vision.compression_table(
        {"float32": model, "int8 dynamic": dynamic, "int8 static": static}, x, y, latency_repeats=3
    )
    assert isinstance(table, pd.DataFrame)
    assert list(table.index) == ["float32", "int8 dynamic", "int8 static"]
    assert table.loc["int8 static", "size_kb"] < table.loc["float32", "size_kb"]
    assert table.loc["int8 static", "accuracy"] >= table.loc["float32", "accuracy"] - 0.1
    assert (table["latency_ms_batch1"] > 0).all()
