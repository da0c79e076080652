"""``ecom run 06`` on a bad data source: a clear message, exit 1, nothing in the reports."""

from __future__ import annotations

import pytest
from test_data_source import ORDERS, _ecom, _shop  # the data-source tests' shop and CLI


@pytest.mark.parametrize(
    ("edit", "column", "message"),
    [
        (lambda s: s.replace(",9.00", ",-9.00"), "sales_value", "1 negative value(s)"),
        (lambda s: s.replace(",9.00", ",inf"), "sales_value", "infinite or NaN"),
        (
            lambda s: s.replace("2024-03-02", "2099-03-02"),
            "transaction_timestamp",
            "lie in the future",
        ),
    ],
    ids=["negative-amount", "infinite-amount", "future-timestamp"],
)
def test_run_06_with_bad_transactions_exits_1_and_writes_nothing(tmp_path, edit, column, message):
    reports = tmp_path / "reports"
    path = _shop(tmp_path, orders=edit(ORDERS))
    out = _ecom("run", "06", "--data", str(path), "--out", str(reports), cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    # the problem is stated on one line that names the column
    lines = [line for line in out.stderr.splitlines() if message in line]
    assert len(lines) == 1 and f"transactions.{column}" in lines[0], out.stderr
    assert str(path) in out.stderr
    assert not reports.exists() or not any(reports.iterdir())
