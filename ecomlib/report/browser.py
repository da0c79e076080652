"""Open a report page in headless Chromium and report what a reader would see.

Used by the tests (and handy for a quick check): the page loads, has a title, shows its
figures, and no image is broken.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--window-size=1280,2000",
)


@dataclass
class PageCheck:
    """What the browser saw."""

    title: str
    images: int
    broken_images: int
    links: list[str]
    text: str


def chromium_path() -> str | None:
    """Path of a Chromium/Chrome binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    return None


def check_page(path: Path, screenshot: Path | None = None) -> PageCheck:
    """Load ``path`` (an HTML file) in headless Chromium and inspect it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = chromium_path()
    driver_bin = shutil.which("chromedriver")
    if not binary or not driver_bin:
        raise RuntimeError(
            "Chromium and chromedriver are needed: apt-get install chromium chromium-driver"
        )
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    profile = tempfile.mkdtemp(prefix="ecom-chromium-")
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_bin), options=opts)
    try:
        driver.set_page_load_timeout(120)
        driver.get(Path(path).resolve().as_uri())
        info = driver.execute_script(
            "const imgs = Array.from(document.images);"
            "return {title: document.title, images: imgs.length,"
            " broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).length,"
            " links: Array.from(document.querySelectorAll('a')).map(a => a.getAttribute('href')),"
            " text: document.body.innerText};"
        )
        if screenshot is not None:
            driver.save_screenshot(str(screenshot))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return PageCheck(info["title"], info["images"], info["broken"], info["links"], info["text"])
