"""Figure helpers: alternative text and non-overlapping point labels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ecomlib.plots import describe, label_points  # noqa: E402


def test_describe_without_titles_and_with_suptitle():
    fig, axes = plt.subplots(1, 2)
    assert describe(fig) == "Figure without a title"
    fig.suptitle("Forecasts")
    axes[0].set_title("A\npred: B")
    axes[1].set_xlabel("ds")
    assert describe(fig) == "Figure: Forecasts | A pred: B | (x: ds)"
    axes[0].set_title("x" * 400)
    assert len(describe(fig)) == 300 and describe(fig).endswith("...")
    plt.close(fig)


def test_label_points_keeps_clustered_labels_apart():
    fig, ax = plt.subplots(figsize=(5.5, 4))
    x = np.array([0.18, 0.2024, 0.1792, 0.2162, 0.1917, 0.0128, 0.0246, 0.0004, 0.3822])
    y = np.array([0.390, 0.383, 0.382, 0.380, 0.360, 0.212, 0.203, 0.143, 0.017])
    names = ["ranker_deals", "buy_again_decay", "hybrid", "tifu_knn", "buy_again", "new_items"]
    names += ["ease", "popularity", "content"]
    ax.scatter(x, y)
    ax.set_xscale("log")
    texts = label_points(ax, x, y, names)
    assert [t.get_text() for t in texts] == names
    renderer = fig.canvas.get_renderer()
    for t in texts:
        t.update_positions(renderer)
    boxes = [matplotlib.text.Text.get_window_extent(t, renderer) for t in texts]  # text only
    overlapping = [
        (a, b) for a in range(len(boxes)) for b in range(a) if boxes[a].overlaps(boxes[b])
    ]
    assert not overlapping
    plt.close(fig)
