"""One visual style for every notebook, and small figure helpers that return Figures.

Figures are PNG (the notebooks set ``%config InlineBackend.figure_formats = ['png']`` through
:func:`set_style`), because SVG output breaks nbval comparisons. Each PNG carries alternative
text built from the figure's titles and axis labels (:func:`describe`), which the HTML reports
put on the image for screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

PALETTE = "deep"


def set_style() -> None:
    """Apply the project style (seaborn whitegrid, readable sizes, PNG inline figures)."""
    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook")
    matplotlib.rcParams.update(
        {
            "figure.figsize": (9, 4.5),
            "figure.dpi": 90,
            "savefig.dpi": 110,
            "axes.titleweight": "bold",
            "axes.titlesize": 12,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "figure.autolayout": True,
        }
    )
    try:  # only inside IPython
        from IPython import get_ipython

        ip = get_ipython()
        if ip is not None:
            from matplotlib_inline.backend_inline import set_matplotlib_formats

            set_matplotlib_formats("png")
            _png_with_alt_text(ip)
    except Exception:  # pragma: no cover - outside a kernel
        pass


def describe(fig: matplotlib.figure.Figure, max_chars: int = 300) -> str:
    """Alternative text of a figure: its title and each panel's title and axis labels.

    >>> fig, ax = plt.subplots(); _ = ax.set(title="Sales", xlabel="day", ylabel="USD")
    >>> describe(fig)
    'Figure: Sales (x: day; y: USD)'
    """
    parts = []
    suptitle = getattr(fig, "_suptitle", None)
    if suptitle is not None and suptitle.get_text():
        parts.append(suptitle.get_text())
    for ax in fig.axes:
        labels = [f"{a}: {t}" for a, t in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())) if t]
        title = ax.get_title() or ax.get_title("left") or ax.get_title("right")
        if title or labels:
            parts.append(" ".join([title, f"({'; '.join(labels)})" if labels else ""]).strip())
    parts = [" ".join(part.split()) for part in parts]  # multi-line titles read as one line
    text = "Figure: " + " | ".join(dict.fromkeys(parts)) if parts else "Figure without a title"
    return text if len(text) <= max_chars else text[: max_chars - 3] + "..."


def _png_with_alt_text(ip) -> None:
    """Wrap the kernel's PNG formatter of figures to return ``(png, {"alt": describe(fig)})``."""
    from matplotlib.figure import Figure

    formatter = ip.display_formatter.formatters["image/png"]
    render = formatter.lookup_by_type(Figure)
    if getattr(render, "adds_alt_text", False):
        return

    def png(fig: Figure):
        data = render(fig)
        return None if data is None else (data, {"alt": describe(fig)})

    png.adds_alt_text = True
    formatter.for_type(Figure, png)


def bar(
    series: pd.Series,
    title: str,
    xlabel: str = "",
    ylabel: str = "",
    horizontal: bool = True,
    color: str | None = None,
) -> plt.Figure:
    """A bar chart of a Series (index = labels)."""
    fig, ax = plt.subplots(figsize=(9, max(3.0, 0.3 * len(series) + 1)) if horizontal else None)
    if horizontal:
        series.iloc[::-1].plot.barh(ax=ax, color=color or sns.color_palette()[0])
    else:
        series.plot.bar(ax=ax, color=color or sns.color_palette()[0])
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig


def heatmap(
    frame: pd.DataFrame,
    title: str,
    fmt: str = ".2f",
    cmap: str = "viridis",
    annot: bool = True,
    figsize: tuple[float, float] | None = None,
    **kwargs,
) -> plt.Figure:
    """An annotated heatmap of a DataFrame."""
    fig, ax = plt.subplots(
        figsize=figsize or (min(14, 1 + 0.7 * frame.shape[1]), min(10, 1 + 0.4 * frame.shape[0]))
    )
    sns.heatmap(frame, annot=annot, fmt=fmt, cmap=cmap, ax=ax, **kwargs)
    ax.set_title(title)
    return fig


def history(
    history: pd.DataFrame,
    title: str = "Training history",
    metrics: Sequence[str] = ("train_loss", "val_loss"),
) -> plt.Figure:
    """Plot the per-epoch history returned by :func:`ecomlib.train.fit`."""
    cols = [c for c in metrics if c in history]
    extra = "val_metric" in history
    fig, axes = plt.subplots(1, 2 if extra else 1, figsize=(11 if extra else 7, 3.8))
    axes = np.atleast_1d(axes)
    for c in cols:
        axes[0].plot(history["epoch"], history[c], marker="o", label=c)
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("loss")
    axes[0].legend()
    axes[0].set_title(title)
    if extra:
        axes[1].plot(history["epoch"], history["val_metric"], marker="o", color="C2")
        axes[1].set_xlabel("epoch")
        axes[1].set_title("validation metric")
    return fig


LEADER = {"arrowstyle": "-", "color": "0.45", "lw": 0.6, "shrinkA": 1, "shrinkB": 3}


def label_points(
    ax: matplotlib.axes.Axes,
    x: Sequence[float],
    y: Sequence[float],
    labels: Sequence[str],
    sizes: Sequence[float] | float = 36.0,
    fontsize: float = 8,
) -> list[matplotlib.text.Annotation]:
    """Name each point of a scatter plot without labels covering each other or the points.

    Each label goes right of its point; where it would overlap a label already placed, any
    marker (``sizes`` as given to ``ax.scatter``, in points squared) or leave the axes, it
    tries left, above, below and the diagonals, then the same further out with a thin leader
    line to its point. Greedy, but enough for a leaderboard of a dozen models where several
    sit close together.
    """
    from matplotlib.transforms import Bbox

    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    px = fig.dpi / 72.0  # pixels per point
    xy = ax.transData.transform(np.column_stack([np.asarray(x, float), np.asarray(y, float)]))
    radii = np.sqrt(np.broadcast_to(np.asarray(sizes, float), (len(xy),))) / 2  # points
    obstacles = [
        Bbox.from_extents(cx - r * px, cy - r * px, cx + r * px, cy + r * px)
        for (cx, cy), r in zip(xy, radii, strict=True)
    ]
    axes_box = ax.get_window_extent(renderer)
    texts = []

    def place(label, xi, yi, where, arrowprops=None):
        dx, dy, ha, va = where
        return ax.annotate(
            str(label),
            (xi, yi),
            xytext=(dx, dy),
            textcoords="offset points",
            fontsize=fontsize,
            ha=ha,
            va=va,
            arrowprops=arrowprops,
        )

    for (xi, yi), r, label in zip(zip(x, y, strict=True), radii, labels, strict=True):
        best = None  # (overlaps, outside, rank, placement)
        rank = 0
        for far in (1.0, 2.5, 4.0):
            d = (r + 2) * far
            for dx, dy, ha, va in (
                (d, 0, "left", "center"),
                (-d, 0, "right", "center"),
                (0, d, "center", "bottom"),
                (0, -d, "center", "top"),
                (d, d, "left", "bottom"),
                (d, -d, "left", "top"),
                (-d, d, "right", "bottom"),
                (-d, -d, "right", "top"),
            ):
                probe = place(label, xi, yi, (dx, dy, ha, va))
                probe.update_positions(renderer)
                box = matplotlib.text.Text.get_window_extent(probe, renderer)  # text only
                probe.remove()
                outside = not (
                    box.x0 >= axes_box.x0
                    and box.x1 <= axes_box.x1
                    and box.y0 >= axes_box.y0
                    and box.y1 <= axes_box.y1
                )
                score = (sum(box.overlaps(b) for b in obstacles), outside, rank)
                rank += 1
                if best is None or score < best[:3]:
                    best = (*score, (dx, dy, ha, va, far, box))
                if score[:2] == (0, False):
                    break
            if best[:2] == (0, False):
                break
        *where, far, box = best[3]
        # a leader line when the label had to move away from its point
        t = place(label, xi, yi, where, None if far == 1.0 else LEADER)
        obstacles.append(box)
        texts.append(t)
    return texts
