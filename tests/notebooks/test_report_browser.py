"""The HTML report of 01_eda and reports/index.html, opened in headless Chromium."""

from __future__ import annotations

import pytest

from ecomlib.report import browser, runner

pytestmark = [
    pytest.mark.notebook,
    pytest.mark.browser,
    pytest.mark.xdist_group("nb_01"),
]


@pytest.mark.skipif(
    browser.chromium_path() is None,
    reason="headless Chromium not installed (make setup installs it as root)",
)
def test_eda_report_and_index_render_in_chromium(tmp_path):
    final, results = runner.run(
        ["01"], profile="smoke", out=tmp_path, run_name="browser", progress=False
    )
    assert results[0].status == "ok"
    page = browser.check_page(final / "01_eda.html", screenshot=tmp_path / "eda.png")
    assert page.title.startswith("01_eda")
    assert page.images >= 5, "the EDA report should show its figures"
    assert page.broken_images == 0
    assert "Traceback" not in page.text and "Error" not in page.text.split("\n")[0]
    index = browser.check_page(tmp_path / "index.html")
    assert "browser/01_eda.html" in index.links
    assert "ok" in index.text and index.broken_images == 0
    assert (tmp_path / "eda.png").stat().st_size > 10_000
