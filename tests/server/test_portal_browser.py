"""The web portal in a real browser: Debian's Chromium, headless, driven by Playwright.

A live server (uvicorn on a loopback port) on each backend; the browser logs in through the
server's login form, filters jobs, opens one, kills it, reads the transformation monitor and the
accounting page, and logs out. On SQLite also: markup in job names, parameters and LFNs stays
text (checked with the Content-Security-Policy switched off, so that escaping alone is what is
proved), and the policy itself blocks an inline handler. Screenshots of every step are kept in
``test-artifacts/portal/`` at the repository's root (printed at the end of the run).

Playwright downloads no browser here: it launches ``/usr/bin/chromium`` (Debian's ``chromium``)
with its own new, empty profile directory. Without that browser or the ``playwright`` package the
tests skip, and fail under ``CI=true``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
from portal_helpers import IMG, LFN_MARKUP, SCRIPT, portal_config, replication, submit
from server_helpers import PASSWORD

from dirac_core.accounting import KINDS
from dirac_core.db import Database
from dirac_core.interware import Interware
from dirac_core.model import SystemClock
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.testing.databases import TestDatabases, empty_all_tables, selected_backends, skip_or_fail
from dirac_server import create_app
from dirac_server.runner import bind, running, url_of

CHROMIUM = Path("/usr/bin/chromium")
#: how these machines run Chromium as root (Playwright adds --headless and a new --user-data-dir)
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def artifacts(request: pytest.FixtureRequest) -> Iterator[Path]:
    """Where the screenshots go (``test-artifacts/portal``, git-ignored); named at the end."""
    folder = request.config.rootpath / "test-artifacts" / "portal"
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"portal screenshots: {folder}")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, under Playwright: for this module only, since Playwright's
    event loop counts as running in this thread while it lives (``asyncio.run`` would refuse)."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        skip_or_fail("the playwright package is missing (pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        except Error as exc:
            skip_or_fail(f"Chromium does not start: {exc}")
        yield browser
        browser.close()


@attrs.frozen
class Site:
    """A live server: its URL, its interware, the backend it runs on."""

    url: str
    iw: Interware
    backend: str


@pytest.fixture(scope="module", params=selected_backends())
def site(request: pytest.FixtureRequest, dirac_test_databases: TestDatabases) -> Iterator[Site]:
    """A live server on the backend (for the module; its tables emptied before and after)."""
    database: Database = dirac_test_databases.database(request.param)
    empty_all_tables(database)
    sock = bind()
    url = url_of(sock)
    iw = Interware(config=portal_config(database.url.render_as_string(hide_password=False), issuer=url),
                   database=database, clock=SystemClock(), hooks=make_plugin_manager(()))
    try:
        with running(create_app(iw), sock):
            yield Site(url, iw, request.param)
    finally:
        empty_all_tables(database)


@attrs.define
class Tab:
    """A page in a new browser context (no cookies), the dialogs that opened in it (each
    dismissed), and where its screenshots go."""

    page: Any
    dialogs: list[str]
    folder: Path
    backend: str

    def shot(self, name: str) -> None:
        """Save a screenshot of the whole page as ``<backend>-<name>.png``."""
        self.page.screenshot(path=str(self.folder / f"{self.backend}-{name}.png"), full_page=True)


@contextmanager
def _tab(chromium: Any, artifacts: Path, site: Site, **options: Any) -> Iterator[Tab]:
    context = chromium.new_context(viewport={"width": 1400, "height": 900}, **options)
    context.set_default_timeout(20_000)
    tab = Tab(context.new_page(), [], artifacts, site.backend)
    tab.page.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def browse(chromium: Any, artifacts: Path, site: Site) -> Iterator[Tab]:
    """A new tab, with the site's Content-Security-Policy in force."""
    with _tab(chromium, artifacts, site) as tab:
        yield tab


def _login(page: Any, site: Site, user: str = "alice", link: str = "log in (group demo_user)") -> None:
    page.goto(f"{site.url}/portal/")
    assert page.url.startswith(f"{site.url}/portal/login")
    page.click(f"text={link}")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/portal/jobs")
    assert page.inner_text("#whoami") == user


def test_log_in_filter_open_kill_and_browse(browse: Tab, site: Site) -> None:
    iw = site.iw
    alice = iw.identity("alice")
    mine = submit(iw, "main-job", alice, JobGroup="portal")
    done = submit(iw, "other-job", alice)
    iw.wms.kill([done]).raise_for_failures("kill")
    theirs = submit(iw, "bobs-job", iw.identity("bob"))
    tid = replication(iw, "portal-copy", ["/demo/data/p1.dat", "/demo/data/p2.dat"])
    page = browse.page

    page.goto(f"{site.url}/portal/")
    browse.shot("01-login")
    _login(page, site)
    page.wait_for_selector("#status-counts[data-loaded=true]")  # the page's script counted them
    counts = page.locator("#status-counts a").all_inner_texts()
    assert [" ".join(c.split()) for c in counts] == ["All 2", "Killed 1", "Waiting 1"]
    browse.shot("02-jobs")
    assert "bobs-job" not in page.inner_text("main")  # bob's job is not alice's to see
    page.click("#status-counts a[data-status=Killed]")
    page.wait_for_url("**status=Killed**")
    assert page.locator("#jobs-table tbody tr").get_attribute("data-job-id") == str(done)

    page.select_option("#filter-status", "Waiting")  # the page's script submits the filter
    page.wait_for_url("**status=Waiting**")
    statuses = page.locator("#jobs-table td.status").all_inner_texts()
    assert statuses == ["Waiting"]
    assert page.locator("#jobs-table tbody tr").get_attribute("data-job-id") == str(mine)
    browse.shot("03-filtered")

    page.click("td.job-name a:text('main-job')")
    page.wait_for_url(f"**/portal/jobs/{mine}")
    assert page.inner_text("#job-status") == "Waiting"
    browse.shot("04-job")
    page.click("#kill")
    page.wait_for_url(f"**/portal/jobs/{mine}?done=kill")
    assert page.inner_text("#job-status") == "Killed"
    assert iw.wms.get_jobs([mine])[mine]["status"] == "Killed"
    browse.shot("05-killed")

    page.goto(f"{site.url}/portal/jobs/{theirs}")
    assert page.inner_text("h1") == "Not found"

    page.click("nav >> text=Transformations")
    row = page.locator(f"tr[data-transformation='{tid}']")
    assert row.locator("td.files").inner_text().strip() == "Unused=2"
    assert row.locator("td.processed").inner_text() == "0.0%"
    browse.shot("06-transformations")

    page.click("nav >> text=Accounting")
    assert page.locator("img.plot").count() == len(KINDS)
    page.wait_for_function("() => [...document.querySelectorAll('img.plot')].every(img => img.complete)",
                           timeout=120_000)  # matplotlib draws them one after another
    drawn = page.evaluate("() => [...document.querySelectorAll('img.plot')].map(img => img.naturalWidth)")
    assert all(width > 0 for width in drawn), drawn  # every plot is a picture, none a broken image
    browse.shot("07-accounting")

    page.click("#logout")
    page.wait_for_url("**/portal/login?bye=true")
    assert page.inner_text("#logged-out") == "You are logged out."
    page.goto(f"{site.url}/portal/jobs")
    assert page.url.startswith(f"{site.url}/portal/login")
    assert browse.dialogs == []


@pytest.mark.parametrize("site", ["sqlite"], indirect=True)
def test_markup_in_names_parameters_and_lfns_is_text(chromium: Any, artifacts: Path, site: Site) -> None:
    iw = site.iw
    alice = iw.identity("alice")
    img_job = submit(iw, IMG, alice)
    script_job = submit(iw, SCRIPT, alice)
    iw.wms.set_parameters(img_job, {"Note": SCRIPT, IMG: "value"})
    tid = replication(iw, f"tf {IMG}", [LFN_MARKUP])
    # the policy off: what keeps the markup inert here is the escaping alone
    with _tab(chromium, artifacts, site, bypass_csp=True) as tab:
        page = tab.page
        _login(page, site)
        for job, name in ((img_job, IMG), (script_job, SCRIPT)):
            cell = page.locator(f"tr[data-job-id='{job}'] td.job-name")
            assert cell.inner_text() == name
            assert cell.locator("img, script").count() == 0
        tab.shot("08-markup-jobs")
        page.goto(f"{site.url}/portal/jobs/{img_job}")
        assert page.inner_text("#job-name") == IMG
        values = dict(zip(page.locator("#parameters td.param-name").all_inner_texts(),
                          page.locator("#parameters td.param-value").all_inner_texts(), strict=True))
        assert values == {"Note": SCRIPT, IMG: "value"}
        assert IMG in page.inner_text("#jdl")
        assert page.locator("main img, main script").count() == 0
        tab.shot("09-markup-job")
        page.goto(f"{site.url}/portal/transformations/{tid}")
        assert page.inner_text("#t-name") == f"tf {IMG}"
        assert page.locator("#files-table td.lfn").all_inner_texts() == [LFN_MARKUP]
        assert page.locator("main img, main script").count() == 0
        tab.shot("10-markup-lfn")
        assert tab.dialogs == []


@pytest.mark.parametrize("site", ["sqlite"], indirect=True)
def test_the_policy_blocks_inline_handlers(browse: Tab, site: Site) -> None:
    page = browse.page
    _login(page, site)
    # an inline event handler that would get in: the browser refuses to run it, and says why
    directive = page.evaluate("""() => new Promise(resolve => {
        document.addEventListener("securitypolicyviolation", e => resolve(e.violatedDirective));
        document.addEventListener("handler-ran", () => resolve("ran"));
        const img = document.createElement("img");
        img.setAttribute("onerror", "document.dispatchEvent(new Event('handler-ran'))");
        img.src = "/portal/static/no-such-image.png";
        document.body.appendChild(img);
    })""")
    assert directive.startswith("script-src")
