"""Reports: metric recording inside notebooks and the papermill runner behind ``ecom run``."""

from ecomlib.report.metrics import output_path, record, recorded, write_csv, write_json_atomic

__all__ = ["output_path", "record", "recorded", "write_csv", "write_json_atomic"]
