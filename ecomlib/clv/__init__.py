"""Customer lifetime value: purchase histories and the RFM summary, BG/NBD, Pareto/NBD and
Gamma-Gamma, LightGBM and a GRU (through :func:`ecomlib.train.fit`) trained inside the
calibration period, a churn classifier, and their evaluation.

>>> from ecomlib import clv
>>> days = clv.customer_days(clv.connect_source("cdnow"))
>>> period, actual = clv.calibration_holdout(days, "1997-09-30", holdout_weeks=39)
>>> pred = clv.BGNBD().fit(period).predict(period, 39)
"""

from ecomlib.clv.data import (
    Period,
    calibration_end,
    calibration_holdout,
    connect_source,
    customer_days,
    future_purchases,
    holdout_weeks,
    summarise,
)
from ecomlib.clv.evaluate import (
    discounted_value,
    export_predictions,
    fit_predict,
    leaderboard,
    paired_bootstrap,
    score,
    segment_table,
    segments,
    validation_board,
)
from ecomlib.clv.ml import GRUCLV, ChurnClassifier, LightGBMCLV, features, inner_split
from ecomlib.clv.models import (
    BGNBD,
    CLVModel,
    GammaGamma,
    ParetoNBD,
    RateBaseline,
    ZeroBaseline,
    bgnbd_loglik,
    gamma_gamma_loglik,
    pareto_nbd_loglik,
)
from ecomlib.clv.study import Study, churn_table, make_models, run_study

__all__ = [
    "BGNBD",
    "GRUCLV",
    "CLVModel",
    "ChurnClassifier",
    "GammaGamma",
    "LightGBMCLV",
    "ParetoNBD",
    "Study",
    "Period",
    "RateBaseline",
    "ZeroBaseline",
    "bgnbd_loglik",
    "churn_table",
    "calibration_end",
    "holdout_weeks",
    "calibration_holdout",
    "connect_source",
    "customer_days",
    "discounted_value",
    "export_predictions",
    "features",
    "fit_predict",
    "future_purchases",
    "gamma_gamma_loglik",
    "inner_split",
    "leaderboard",
    "make_models",
    "paired_bootstrap",
    "pareto_nbd_loglik",
    "run_study",
    "score",
    "segment_table",
    "segments",
    "summarise",
    "validation_board",
]
