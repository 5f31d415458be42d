# SPDX-License-Identifier: ISC
"""
A real headless Chromium for the page tests, driven by Selenium through
Debian's chromedriver (packages chromium, chromium-driver,
python3-selenium; scripts/deps installs them).  Each browser has its own
profile in the test's directory and is always quit, even on a failure.
Screenshots go to BUILD/screenshots/NAME-WxH.png.
"""

import contextlib
import os
import shutil
import time

import pytest

import harness

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
SHOTS = os.path.join(harness.BUILD, "screenshots")
DESKTOP = (1280, 800)
PHONE = (390, 844)


def _need():
    missing = [p for p in (CHROMEDRIVER, CHROMIUM) if not os.path.exists(p)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("python3-selenium")
    if missing:
        pytest.skip("no browser to test the pages with (missing: %s; "
                    "scripts/deps installs them)" % ", ".join(missing))


@contextlib.contextmanager
def chromium(env, size=DESKTOP, name="chromium"):
    """A Selenium WebDriver on a fresh headless Chromium."""
    _need()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = os.path.join(env.dir, "%s-profile" % name)
    os.makedirs(profile, exist_ok=True)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run",
                "--disable-extensions", "--disable-background-networking",
                "--disable-sync", "--disable-default-apps",
                "--disable-component-update", "--no-proxy-server",
                "--user-data-dir=" + profile,
                "--window-size=%d,%d" % size, "--lang=zh-CN"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    log = os.path.join(env.dir, "%s-driver.log" % name)
    service = Service(CHROMEDRIVER, log_output=log) \
        if "log_output" in Service.__init__.__code__.co_varnames \
        else Service(CHROMEDRIVER, log_path=log)
    driver = webdriver.Chrome(service=service, options=opts)
    driver.set_page_load_timeout(20)
    driver.set_script_timeout(10)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def resize(driver, size):
    """Make the page's viewport size (width, height) CSS pixels."""
    driver.set_window_size(*size)
    # The window includes no chrome in headless mode, but check anyway.
    w, h = driver.execute_script("return [innerWidth, innerHeight]")
    if (w, h) != tuple(size):
        driver.set_window_size(size[0] + size[0] - w, size[1] + size[1] - h)


def screenshot(driver, name, size):
    """BUILD/screenshots/NAME-WxH.png, at that viewport size."""
    os.makedirs(SHOTS, exist_ok=True)
    resize(driver, size)
    time.sleep(0.3)
    path = os.path.join(SHOTS, "%s-%dx%d.png" % (name, size[0], size[1]))
    driver.save_screenshot(path)
    assert os.path.getsize(path) > 1000, path
    return path


def wait(driver, js, timeout=5.0, what="the page"):
    """Wait until the script `return ...` is truthy; its value."""
    return harness.wait_for(lambda: driver.execute_script(js), timeout, what,
                            interval=0.02)


def console_errors(driver):
    """The browser's own error lines (CSP violations, script errors)."""
    return [e for e in driver.get_log("browser")
            if e.get("level") in ("SEVERE", "ERROR")]
