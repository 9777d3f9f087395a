#!/usr/bin/env python3
"""PNGs of every dashboard view, taken in headless Chromium, for the docs.

    python3 tools/screenshots.py --cluster .lab/nap-cluster.yml -f examples/guestbook/docker-compose.yml \\
        -p guestbook --out docs

Starts `nap-compose dashboard` on a free loopback port, opens each view in Debian's Chromium through
selenium (tests/browser.py: nothing but the dashboard is reached), waits for the view to be filled,
and writes docs/dashboard-<view>.png. `make screenshots` runs it against the guestbook demo.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from napcompose.dashboard.views import VIEWS  # noqa: E402
from tests import browser  # noqa: E402

SIZES = {view: (1100, 400) for view in VIEWS}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cluster", required=True)
    parser.add_argument("-f", "--file", required=True, help="the project's compose file")
    parser.add_argument("-p", "--project", required=True)
    parser.add_argument("--out", default=os.path.join(REPO, "docs"))
    args = parser.parse_args()
    if not browser.available():
        sys.exit("screenshots: needs selenium and Debian's chromium and chromium-driver (make deps)")
    env = {k: v for k, v in os.environ.items() if k not in ("NAP_DASHBOARD_TOKEN", "NAP_CLUSTER")}
    env["PYTHONPATH"] = REPO
    process = subprocess.Popen([sys.executable, "-m", "napcompose", "-f", os.path.abspath(args.file), "-p",
                                args.project, "--cluster", os.path.abspath(args.cluster), "dashboard",
                                "--listen", "127.0.0.1:0"], env=env, stdout=subprocess.PIPE, text=True)
    driver = None
    try:
        line = process.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
        if not found:
            sys.exit(f"screenshots: the dashboard did not start: {line!r}")
        url = found.group(1)
        driver = browser.chromium(*SIZES["graph"])
        for view in VIEWS:
            driver.set_window_size(*SIZES[view])
            driver.get(url + view)
            time.sleep(2.5)  # one refresh in, so the status line says live
            # the whole view, not just the window: grow the window to the page's height
            tall, chrome = driver.execute_script(
                "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight];")
            driver.set_window_size(SIZES[view][0], min(1600, tall + chrome + 8))
            time.sleep(0.3)
            path = os.path.join(args.out, f"dashboard-{view}.png")
            driver.save_screenshot(path)
            print(f"wrote {os.path.relpath(path)}")
    finally:
        if driver is not None:
            browser.quit_browser(driver)
        process.terminate()
        process.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
