"""Headless Chromium through selenium and the system's chromedriver, kept from reaching anything.

Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver): no browser is
downloaded. Background networking, component updates, sync, default apps and the proxy are off and
every start has a fresh profile, so the only requests the browser makes are the pages it is sent to.
"""

from __future__ import annotations

import os
import shutil
import tempfile

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def available() -> bool:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return False
    return os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)


def chromium(width: int = 1280, height: int = 900):
    """A selenium WebDriver on a fresh headless Chromium; ``quit_browser`` ends it and removes its profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    # Both paths are given, so Selenium Manager has nothing to find; should it run anyway, no statistics.
    os.environ.setdefault("SE_AVOID_STATS", "true")
    profile = tempfile.mkdtemp(prefix="nap-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-default-apps", "--disable-extensions", "--disable-quic", "--no-proxy-server",
                 "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
                 "--metrics-recording-only", "--disable-domain-reliability", "--disable-breakpad",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver._nap_profile = profile
    return driver


def quit_browser(driver) -> None:
    try:
        driver.quit()
    finally:
        shutil.rmtree(getattr(driver, "_nap_profile", ""), ignore_errors=True)
