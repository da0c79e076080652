"""Reports: metric recording inside notebooks and the papermill runner behind ``ecom run``."""

from ecomlib.report.metrics import record, recorded, write_json_atomic

__all__ = ["record", "recorded", "write_json_atomic"]
