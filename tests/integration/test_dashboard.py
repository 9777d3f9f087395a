"""The dashboard in headless Chromium against the guestbook running on the lab.

The dashboard runs as the user runs it (`python3 -m napcompose dashboard`, from the project's
directory) and listens on the lab's operator address, beyond loopback, so every request needs its
token: the browser trades it for a cookie once, as a user opening the printed address does. The
browser is Debian's Chromium driven by selenium through /usr/bin/chromedriver, kept from reaching
anything but the dashboard (tests/browser.py).
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest

from tests import browser
from tests.integration.deploy_support import IMAGE
from tests.integration.test_guestbook import guestbook  # noqa: F401  (the module's running guestbook)

pytestmark = pytest.mark.integration

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKEN = secrets.token_urlsafe(24)
STOP_SEEN_WITHIN_S = 10


class Dashboard:
    def __init__(self, url: str, process: subprocess.Popen):
        self.url = url
        self.process = process

    def get(self, path: str, headers=None):
        """(status, body) of a request from this process, never through a proxy."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(self.url.rstrip("/") + path, headers=headers or {})
        try:
            with opener.open(request, timeout=10) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


@pytest.fixture(scope="module")
def dashboard(lab, guestbook):  # noqa: F811
    operator = lab.etcd_host  # the operator's address on the lab segment, in the root namespace
    env = {k: v for k, v in os.environ.items() if k not in ("NAP_CLUSTER", "COMPOSE_FILE", "DOCKER_HOST")}
    env.update(NAP_DASHBOARD_TOKEN=TOKEN, PYTHONPATH=REPO)
    process = subprocess.Popen(
        [sys.executable, "-m", "napcompose", "-p", guestbook.name, "--cluster", lab.cluster_file,
         "dashboard", "--listen", f"{operator}:0"],
        cwd=str(guestbook.dir), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline()
        found = re.search(r"(http://\S+/)", first)
        assert found, f"the dashboard printed {first!r}; stderr: {process.stderr.read() if process.poll() else ''}"
        assert TOKEN not in first  # a token from the environment is never printed
        yield Dashboard(found.group(1), process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def page(dashboard):
    if not browser.available():
        pytest.fail("the browser tests need selenium and Debian's chromium and chromium-driver "
                    "(make deps installs them)", pytrace=False)
    driver = browser.chromium()
    try:
        driver.get(dashboard.url + f"?token={TOKEN}")
        assert "token=" not in driver.current_url  # traded for a cookie, gone from the address
        yield driver
    finally:
        browser.quit_browser(driver)


def wait_for(driver, condition, timeout: float = STOP_SEEN_WITHIN_S, what: str = ""):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2, ignored_exceptions=[StaleElementReferenceException]
                         ).until(lambda d: condition(d), message=what)


# The page swaps its content every refresh, so elements found in one call can be gone in the next:
# each read below takes what it needs in one script run, at one instant.
READ_ROWS = """
return Array.from(document.querySelectorAll(arguments[0])).map(function (row) {
  var cells = {};
  row.querySelectorAll("td").forEach(function (td) { cells[td.className] = td.textContent; });
  return {name: row.getAttribute("data-name"), state: row.getAttribute("data-state"),
          action: row.getAttribute("data-action"), cells: cells, text: row.textContent,
          markup: row.querySelectorAll("b, img, script").length};
});
"""


def read_rows(driver, selector):
    return driver.execute_script(READ_ROWS, selector)


def rows(driver):
    """{container name: (host, address, state)} as the containers table shows them now."""
    return {r["name"]: (r["cells"]["host"], r["cells"]["ip"], r["state"])
            for r in read_rows(driver, "table.containers tbody tr[data-name]")}


def svg_parts(driver, kind, *attributes):
    script = ("var names = arguments[1]; return Array.from(document.querySelectorAll("
              "'svg.service-graph g.' + arguments[0])).map(function (g) {"
              " return names.map(function (a) { return g.getAttribute(a); }); });")
    return [tuple(x) for x in driver.execute_script(script, kind, list(attributes))]


def test_the_page_lists_every_container_with_its_host_and_address(page, dashboard, guestbook):  # noqa: F811
    page.get(dashboard.url + "containers")
    expected = {r["Name"]: (r["Host"], r["IP"], "running") for r in guestbook.ps()}
    assert len(expected) == 3
    wait_for(page, lambda d: {n: v for n, v in rows(d).items() if n in expected} == expected,
             what=f"the containers table never showed {expected}")
    for name, (host, ip, _) in expected.items():  # and ps tells the truth
        assert guestbook.address(name) == ip and guestbook.containers()[name][0] == host


def test_the_graph_shows_web_needing_both_redis_with_replicas_in_their_host_lanes(page, dashboard, guestbook):  # noqa: F811
    page.get(dashboard.url + "graph")
    edges = set(svg_parts(page, "edge", "data-from", "data-to"))
    assert {("web", "redis-master"), ("web", "redis-slave"), ("redis-slave", "redis-master")} == edges
    replicas = dict(svg_parts(page, "replica", "data-replica", "data-host"))
    assert replicas == {r["Name"]: r["Host"] for r in guestbook.ps()}
    lanes = {host for (host,) in svg_parts(page, "lane", "data-host")}
    assert lanes == {h.name for h in guestbook.lab.cluster.hosts}


def test_a_container_stopped_on_its_host_shows_as_stopped_without_a_reload(page, dashboard, guestbook):  # noqa: F811
    page.get(dashboard.url + "containers")
    name = f"{guestbook.name}_redis-slave_1"
    wait_for(page, lambda d: rows(d).get(name, ("", "", ""))[2] == "running")
    page.execute_script("window.napSamePage = 'still here';")
    host, container = guestbook.container("redis-slave")
    try:
        container.stop(timeout=5)  # through that host's own engine, as `docker stop` there does
        stopped_at = time.monotonic()
        wait_for(page, lambda d: rows(d).get(name, ("", "", ""))[2] == "exited",
                 what=f"{name} did not show as stopped within {STOP_SEEN_WITHIN_S} s")
        assert time.monotonic() - stopped_at <= STOP_SEEN_WITHIN_S
        assert page.execute_script("return window.napSamePage;") == "still here"  # no reload happened
        page.get(dashboard.url + "events")
        died = wait_for(page, lambda d: [r for r in read_rows(d, f'table.events tr[data-name="{name}"]')
                                         if r["action"] == "die"], what=f"no die event of {name}")
        assert host in died[0]["text"]
    finally:
        container.start()
    page.get(dashboard.url + "containers")
    wait_for(page, lambda d: rows(d).get(name, ("", "", ""))[2] == "running")


def test_markup_in_a_containers_labels_is_shown_as_text(page, dashboard, guestbook):  # noqa: F811
    project = "<b>x</b>"
    service = "<img src=x onerror=\"window.napInjected=1\">"
    name = f"markup{uuid.uuid4().hex[:8]}"
    host = guestbook.lab.cluster.hosts[0].name
    engine = guestbook.docker(host)
    made = engine.containers.create(IMAGE, ["sleep", "3600"], name=name, network_mode="none", labels={
        "io.nap-compose.host": host, "com.docker.compose.project": project,
        "com.docker.compose.service": service, "com.docker.compose.container-number": "1"})
    try:
        made.start()
        page.get(dashboard.url + "containers")
        wait_for(page, lambda d: name in rows(d), what=f"the hand-made container {name} never showed")
        [row] = read_rows(page, f'table.containers tr[data-name="{name}"]')
        assert (row["cells"]["project"], row["cells"]["service"], row["markup"]) == (project, service, 0)
        time.sleep(2.5)  # a refresh or more later: still text, and nothing ran
        [row] = read_rows(page, f'table.containers tr[data-name="{name}"]')
        assert (row["cells"]["project"], row["markup"]) == (project, 0)
        assert page.execute_script("return window.napInjected;") is None
        # the project filter offers it as a plain choice too
        options = page.execute_script("return Array.from(document.querySelectorAll("
                                      "'select[name=project] option')).map(function (o) { return o.text; });")
        assert project in options
        page.get(dashboard.url + "events")
        [event] = wait_for(page, lambda d: read_rows(d, f'table.events tr[data-name="{name}"]'))
        assert project in event["text"] and event["markup"] == 0
        assert page.execute_script("return window.napInjected;") is None
    finally:
        made.remove(force=True)


def test_beyond_loopback_a_request_without_the_token_is_refused(dashboard, guestbook):  # noqa: F811
    assert not dashboard.url.startswith("http://127.")
    for path in ("/containers", "/fragment/containers", "/api/state.json", "/static/app.js"):
        status, body = dashboard.get(path)
        assert status == 401, path
        assert guestbook.name not in body
    assert dashboard.get("/containers", {"Authorization": "Bearer " + TOKEN[::-1]})[0] == 401
    status, body = dashboard.get("/api/state.json", {"Authorization": "Bearer " + TOKEN})
    assert status == 200 and guestbook.name in body


def test_the_host_filter_narrows_the_table_in_place(page, dashboard, guestbook):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    page.get(dashboard.url + "containers")
    mine = {r["Name"]: r["Host"] for r in guestbook.ps()}
    wait_for(page, lambda d: set(mine) <= set(rows(d)))
    host = sorted(set(mine.values()))[0]
    page.execute_script("window.napSamePage = 'filtered';")
    wait_for(page, lambda d: host in [o.text for o in Select(d.find_element(
        By.CSS_SELECTOR, "select[name=host]")).options])
    Select(page.find_element(By.CSS_SELECTOR, "select[name=host]")).select_by_value(host)
    wait_for(page, lambda d: rows(d) and {h for h, _, _ in rows(d).values()} == {host},
             what=f"the table never narrowed to {host}")
    assert {n for n in rows(page) if n in mine} == {n for n, h in mine.items() if h == host}
    assert page.current_url.endswith(f"/containers?host={host}")
    assert page.execute_script("return window.napSamePage;") == "filtered"
