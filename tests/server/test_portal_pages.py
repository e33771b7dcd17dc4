"""The web portal through a test client, on every backend: login by the authorization-code flow,
the session cookie (refreshed, logged out), CSRF, headers, the job monitor's filters, counts and
keyset pages, a job's page, Kill and Reschedule, and what each user may see."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from fastapi.testclient import TestClient
from portal_helpers import IMG, LFN_MARKUP, SCRIPT, login, portal_config, replication, submit

from dirac_core.accounting import KINDS
from dirac_core.db import Database
from dirac_core.errors import NotAuthenticated
from dirac_core.interware import Interware
from dirac_core.model import FakeClock
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.wms.pilots import PilotRecord
from dirac_server import create_app, portal
from dirac_server.portal import SECURITY_HEADERS, allow_portal_login
from dirac_server.portal.pages import TEMPLATES
from dirac_server.portal.session import decode_cookie


@pytest.fixture
def iw(database: Database, fake_clock: FakeClock) -> Interware:
    """The portal grid on the backend under test, with the fake clock."""
    return Interware(config=portal_config(database.url.render_as_string(hide_password=False)),
                     database=database, clock=fake_clock, hooks=make_plugin_manager(()))


@pytest.fixture
def web(iw: Interware) -> Iterator[TestClient]:
    """A browser-like client of the app (it keeps cookies, does not follow redirects)."""
    with TestClient(create_app(iw), follow_redirects=False) as client:
        yield client


def _ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-job-id="(\d+)"', page)]


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_pages_need_a_login_and_carry_the_security_headers(web: TestClient) -> None:
    away = web.get("/portal/jobs", params={"status": "Waiting"})
    assert away.status_code == 303
    assert away.headers["location"] == "/portal/login?next=%2Fportal%2Fjobs%3Fstatus%3DWaiting"
    assert web.get("/").headers["location"] == "/portal/"
    for path in ("/portal/login", "/portal/static/portal.js", "/portal/static/portal.css", "/portal/nope"):
        answer = web.get(path)
        assert answer.status_code == (404 if path.endswith("nope") else 200), path
        assert {k: answer.headers[k] for k in SECURITY_HEADERS} == SECURITY_HEADERS
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp
    page = web.get("/portal/login").text
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # every script is a file of ours


def test_login_by_the_code_flow_then_logout(web: TestClient, iw: Interware) -> None:
    done = login(web)
    assert done.status_code == 200 and 'url=/portal/jobs"' in done.text
    cookie = done.headers["set-cookie"].lower()
    assert "dirac-portal=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    page = web.get("/portal/jobs")
    assert page.status_code == 200 and '<span id="whoami">alice</span>' in page.text
    session = decode_cookie(web.cookies["dirac-portal"])
    assert session is not None

    assert web.post("/portal/logout").status_code == 403  # no CSRF token: refused
    out = web.post("/portal/logout", data={"csrf": _csrf(page.text)})
    assert out.status_code == 303 and out.headers["location"] == "/portal/login?bye=true"
    assert "dirac-portal" not in web.cookies
    with pytest.raises(NotAuthenticated):  # the login's refresh tokens are revoked
        iw.auth.tokens.refresh(session.refresh)
    assert web.get("/portal/jobs").status_code == 303
    assert "You are logged out" in web.get("/portal/login", params={"bye": "true"}).text


def test_login_refusals(web: TestClient, iw: Interware) -> None:
    assert login(web, password="wrong").status_code == 401
    assert "dirac-portal" not in web.cookies
    forged = web.get("/portal/auth/callback", params={"code": "x" * 20, "state": "not-mine"})
    assert forged.status_code == 400 and "start again" in forged.text
    # after the login, the browser goes to a page of the portal, never to another site
    for target in ("https://evil.example/", "//evil.example/x", "/portal\\@evil.example"):
        assert 'url=/portal/jobs"' in login(web, next_page=target).text
    assert 'url=/portal/sites"' in login(web, next_page="/portal/sites").text
    assert 'content="0;url=/portal/jobs?status=Killed&amp;per_page=25"' in login(
        web, next_page="/portal/jobs?status=Killed&per_page=25").text


def test_the_login_happens_at_the_issuers_address(iw: Interware) -> None:
    elsewhere = TestClient(create_app(iw), base_url="http://localhost", follow_redirects=False)
    moved = elsewhere.get("/portal/login", params={"next": "/portal/sites"})
    assert moved.status_code == 303
    assert moved.headers["location"] == "http://testserver/portal/login?moved=true&next=%2Fportal%2Fsites"
    assert elsewhere.get("/portal/login", params={"moved": "true"}).status_code == 200  # never a loop
    assert elsewhere.get("/portal/auth/start", params={"vo": "demo group:x"}).status_code == 400
    cfg = allow_portal_login(attrs.evolve(iw.config, auth=attrs.evolve(iw.config.auth, allowed_redirects=())))
    assert cfg.auth.allowed_redirects == ("http://testserver/portal/auth/callback",)
    assert allow_portal_login(cfg) is cfg
    assert portal.__all__ == ["MOUNT", "SECURITY_HEADERS", "allow_portal_login", "callback_url",
                              "create_portal", "install"]
    assert all(getattr(portal, name).__doc__ for name in portal.__all__ if callable(getattr(portal, name)))


def test_a_callback_the_configuration_does_not_accept_is_explained(database: Database,
                                                                   fake_clock: FakeClock) -> None:
    config = portal_config(database.url.render_as_string(hide_password=False))
    config = attrs.evolve(config, auth=attrs.evolve(config.auth, allowed_redirects=()))
    iw = Interware(config=config, database=database, clock=fake_clock, hooks=make_plugin_manager(()))
    page = TestClient(create_app(iw)).get("/portal/login")
    assert "http://testserver/portal/auth/callback" in page.text and "allowed_redirects" in page.text


def test_an_expired_access_token_is_refreshed_once(web: TestClient, fake_clock: FakeClock) -> None:
    login(web)
    first = web.cookies["dirac-portal"]
    fake_clock.advance(timedelta(minutes=25))  # the access token (20 min) expired, the refresh did not
    page = web.get("/portal/jobs")
    assert page.status_code == 200 and "set-cookie" in page.headers
    second = web.cookies["dirac-portal"]
    old, new = decode_cookie(first), decode_cookie(second)
    assert old is not None and new is not None
    assert new.sid == old.sid and new.refresh != old.refresh
    # the browser's other requests sent at the same moment with the old cookie are answered too,
    # and do not count as a replay of the refresh token (which would end the session)
    web.cookies.set("dirac-portal", first)
    assert web.get("/portal/sites").status_code == 200
    web.cookies.set("dirac-portal", second)
    assert web.get("/portal/jobs").status_code == 200
    fake_clock.advance(timedelta(minutes=90))  # the refresh token expired too
    assert web.get("/portal/jobs").headers["location"].startswith("/portal/login")


def test_job_monitor_filters_counts_and_keyset_pages(web: TestClient, iw: Interware) -> None:
    alice, bob = iw.identity("alice"), iw.identity("bob")
    mine = [submit(iw, f"a-{i}", alice, JobGroup="g1" if i % 2 else "g2") for i in range(7)]
    theirs = [submit(iw, f"bob-{i}", bob) for i in range(2)]
    iw.wms.kill(mine[:2]).raise_for_failures("kill")
    login(web)
    page = web.get("/portal/jobs").text
    assert _ids(page) == mine[::-1] and "bob-" not in page
    assert 'data-src="/portal/jobs/counts?per_page=50"' in page  # counted after the page, by its script
    counted = web.get("/portal/jobs", params={"counts": "true"}).text  # or in the page, without script
    assert re.search(r'data-status="All" class="active">All <span class="n">7</span>', counted)
    assert re.search(r'data-status="Killed">Killed <span class="n">2</span>', counted)
    assert re.search(r'data-status="Waiting">Waiting <span class="n">5</span>', counted)
    assert web.get("/portal/jobs/counts", params={"status": "Killed", "job_group": "g1"}).json() == [
        {"status": "All", "count": 3, "active": False, "href": "/portal/jobs?job_group=g1&per_page=50"},
        {"status": "Killed", "count": 1, "active": True,
         "href": "/portal/jobs?status=Killed&job_group=g1&per_page=50"},
        {"status": "Waiting", "count": 2, "active": False,
         "href": "/portal/jobs?status=Waiting&job_group=g1&per_page=50"}]

    first = web.get("/portal/jobs", params={"per_page": 3}).text
    assert _ids(first) == mine[6:3:-1] and "Jobs 1-3 of 7" in first and 'id="page-newer"' not in first
    assert f'after={mine[4]}' in first
    second = web.get("/portal/jobs", params={"per_page": 3, "after": mine[4]}).text
    assert _ids(second) == mine[3:0:-1] and "Jobs 4-6 of 7" in second
    last = web.get("/portal/jobs", params={"per_page": 3, "after": mine[1]}).text
    assert _ids(last) == [mine[0]] and "Jobs 7-7 of 7" in last and 'id="page-older"' not in last
    back = web.get("/portal/jobs", params={"per_page": 3, "before": mine[0]}).text
    assert _ids(back) == mine[3:0:-1] and "Jobs 4-6 of 7" in back and 'id="page-newer"' in back

    killed = web.get("/portal/jobs", params={"status": "Killed", "counts": "true"}).text
    assert _ids(killed) == mine[1::-1]
    assert re.search(r'All <span class="n">7</span>', killed)  # counts ignore the status filter
    assert _ids(web.get("/portal/jobs", params={"name": "a-3"}).text) == [mine[3]]
    assert _ids(web.get("/portal/jobs", params={"name": "%"}).text) == []  # a wildcard is a character
    assert _ids(web.get("/portal/jobs", params={"job_group": "g1"}).text) == [mine[5], mine[3], mine[1]]
    both = web.get("/portal/jobs", params=[("status", "Killed"), ("status", "Waiting"), ("job_group", "g2")])
    assert _ids(both.text) == [mine[6], mine[4], mine[2], mine[0]]
    # alice has no owner filter: asking for bob's jobs still shows only hers
    assert 'id="filter-owner"' not in page
    assert _ids(web.get("/portal/jobs", params={"owner": "bob"}).text) == mine[::-1]
    assert web.get("/portal/jobs", params={"status": "Bogus"}).status_code == 400

    login(web, "admin", "demo_admin")  # a JobAdministrator sees everyone's jobs and filters by owner
    every = web.get("/portal/jobs").text
    assert 'id="filter-owner"' in every and _ids(every) == [*theirs[::-1], *mine[::-1]]
    assert _ids(web.get("/portal/jobs", params={"owner": "bob"}).text) == theirs[::-1]


def test_job_page_kill_and_reschedule(web: TestClient, iw: Interware) -> None:
    alice, bob = iw.identity("alice"), iw.identity("bob")
    job = submit(iw, IMG, alice)
    other = submit(iw, "bob's", bob)
    iw.wms.set_parameters(job, {"Note": SCRIPT})
    login(web)
    page = web.get(f"/portal/jobs/{job}").text
    assert '<span id="job-name">&lt;img src=x onerror=alert(1)&gt;</span>' in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page and SCRIPT not in page and IMG not in page
    assert 'id="job-status" class="status status-waiting">Waiting<' in page
    csrf = _csrf(page)

    assert web.post(f"/portal/jobs/{job}/kill").status_code == 403  # no token
    assert web.post(f"/portal/jobs/{job}/kill", data={"csrf": "forged"}).status_code == 403
    cross = web.post(f"/portal/jobs/{job}/kill", data={"csrf": csrf},
                     headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403 and "another site" in cross.text
    assert iw.wms.get_jobs([job])[job]["status"] == "Waiting"

    again = web.post(f"/portal/jobs/{job}/reschedule", data={"csrf": csrf})
    assert again.status_code == 303 and again.headers["location"] == f"/portal/jobs/{job}?done=reschedule"
    assert iw.wms.get_jobs([job])[job]["reschedule_counter"] == 1
    killed = web.post(f"/portal/jobs/{job}/kill", data={"csrf": csrf})
    assert killed.headers["location"] == f"/portal/jobs/{job}?done=kill"
    shown = web.get(killed.headers["location"]).text
    assert "Kill requested" in shown and 'status-killed">Killed<' in shown
    refused = web.post(f"/portal/jobs/{job}/reschedule", data={"csrf": csrf})  # Killed is final
    assert refused.status_code == 409 and "reschedule refused" in refused.text
    assert "cannot be rescheduled" in refused.text

    # bob's job is not there for alice, to read or to kill
    assert web.get(f"/portal/jobs/{other}").status_code == 404
    assert web.get(f"/portal/jobs/{other}/pilot-log").status_code == 404
    assert web.post(f"/portal/jobs/{other}/kill", data={"csrf": csrf}).status_code == 404
    assert iw.wms.get_jobs([other])[other]["status"] == "Waiting"
    assert "No pilot took this job yet" in web.get(f"/portal/jobs/{job}/pilot-log").text


def test_pilots_sites_transformations_and_accounting(web: TestClient, iw: Interware,
                                                     fake_clock: FakeClock) -> None:
    submit(iw, "at-a", iw.identity("alice"), Site="DIRAC.A.ch")
    iw.pilots.register([PilotRecord(pilot_stamp="stamp-1", vo="demo", grid_site="DIRAC.A.ch",
                                    destination_site="ce-a", queue="q")]).raise_for_failures()
    iw.pilots.keep_output("stamp-1", f"hello {IMG}", "")
    tid = replication(iw, f"copy {SCRIPT}", ["/demo/data/plain.dat", LFN_MARKUP])
    iw.status.set_status("DIRAC.B.fr", "Banned", reason=f"downtime {IMG}", owner="admin")
    iw.wms.kill([submit(iw, "ended", iw.identity("alice"))]).raise_for_failures("kill")  # accounted
    fake_clock.advance(timedelta(minutes=1))  # a period ends before now
    login(web)
    refused = web.get("/portal/pilots")
    assert refused.status_code == 403 and "needs ServiceAdministrator or JobAdministrator" in refused.text
    sites = web.get("/portal/sites").text
    row = sites[sites.index('data-site="DIRAC.A.ch"'):]
    assert "Waiting 1" in row[:row.index("</tr>")] and "needs pilot.read" in row[:row.index("</tr>")]
    banned = sites[sites.index('data-site="DIRAC.B.fr"'):]
    assert 'class="site-status rss-banned">Banned<' in banned[:banned.index("</tr>")]
    assert "downtime &lt;img src=x onerror=alert(1)&gt;" in sites and IMG not in sites
    table = web.get("/portal/transformations").text
    assert f'data-transformation="{tid}"' in table and "copy &lt;script&gt;" in table
    assert "Unused=2" in table
    detail = web.get(f"/portal/transformations/{tid}").text
    assert "/demo/data/&lt;img src=y onerror=alert(3)&gt;.dat" in detail and LFN_MARKUP not in detail
    accounting = web.get("/portal/accounting", params={"since": "30d"}).text
    assert re.search(r"<tr><td>ANY</td><td>1(\.0)?</td>", accounting)  # alice's VO: one job ended
    assert accounting.count('<img class="plot"') == len(KINDS)
    plot = web.get("/portal/accounting/plot", params={"kind": "final-statuses", "since": "30d"})
    assert plot.status_code == 200 and plot.headers["content-type"] == "image/png"
    assert plot.content.startswith(b"\x89PNG")
    assert web.get("/portal/accounting/plot", params={"kind": "nope"}).status_code == 400
    assert web.get("/portal/accounting", params={"since": "1y"}).status_code == 400

    login(web, "olga")  # another VO sees neither the transformation nor the jobs
    assert f'data-transformation="{tid}"' not in web.get("/portal/transformations").text
    assert web.get(f"/portal/transformations/{tid}").status_code == 404

    login(web, "admin", "demo_admin")
    pilots = web.get("/portal/pilots").text
    assert "stamp-1" in pilots and "ce-a" in pilots
    log = web.get("/portal/pilots/stamp-1/log").text
    assert "hello &lt;img src=x onerror=alert(1)&gt;" in log
    assert "Waiting 1" in web.get("/portal/sites").text


def test_templates_never_mark_data_safe() -> None:
    for template in Path(TEMPLATES).glob("*.html"):
        text = template.read_text()
        assert not re.search(r"\|\s*safe\b|autoescape\s+false|Markup\(", text), template.name
