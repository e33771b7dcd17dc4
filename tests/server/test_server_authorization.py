"""The authorization policy through the real app, on every backend: every route but a short public
list needs a token, and the important refusals answer as ``docs/authorization.md`` says."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from server_job_helpers import JDL, RESOURCE, job_row, stamp
from server_tfs_helpers import MANAGER, SERVICE, TFS_GRID, USER, bearer, copy_spec

from dirac_core.auth.passwords import hash_password
from dirac_core.config import load_config
from dirac_core.db import Database
from dirac_core.errors import PermissionDenied
from dirac_core.interware import Interware
from dirac_core.model import FakeClock
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.transformation.wire import spec_from_json
from dirac_server import ServerSettings, create_app

#: routes anyone may call: health, discovery, the login endpoints, the API's own description
PUBLIC_PREFIXES = ("/api/health/", "/.well-known/", "/api/auth/")
PUBLIC_PATHS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc",
                # authorized by the short-lived signed token in the form or query, as S3 URLs are
                "/api/jobs/sandbox/upload", "/api/jobs/sandbox/download",
                # the portal's entry and login pages (its other pages need a session: checked below)
                "/", "/portal/", "/portal/login", "/portal/auth/start", "/portal/auth/callback"}

#: the grid of the transformation tests, plus a configuration administrator (dave), catalog
#: administrators in both VOs (admin in demo, olga in other) and a password hash (a secret)
GRID = TFS_GRID + """
[registry.groups.demo_cs]
name = "demo_cs"
vo = "demo"
users = ["dave"]
properties = ["CSAdministrator"]

[registry.groups.demo_catalog]
name = "demo_catalog"
vo = "demo"
users = ["admin"]
properties = ["NormalUser", "FileCatalogManagement"]

[registry.groups.other_catalog]
name = "other_catalog"
vo = "other"
users = ["olga"]
properties = ["NormalUser", "FileCatalogManagement"]
"""
SECRET = hash_password("s3cret-Pass", iterations=1000)

CS_ADMIN = ("dave", "demo", "demo_cs")
DEMO_CATALOG = ("admin", "demo", "demo_catalog")
OTHER_CATALOG = ("olga", "other", "other_catalog")
BOB = ("bob", "demo", "demo_user")


@pytest.fixture
def iw(database: Database, fake_clock: FakeClock) -> Interware:
    """The grid above (with an SQL catalog) on the backend under test."""
    url = database.url.render_as_string(hide_password=False)
    text = GRID.replace('[registry.users.alice]\nname = "alice"',
                        f'[registry.users.alice]\nname = "alice"\npassword_hash = "{SECRET}"')
    config = load_config(f'{text}\n[database]\nurl = "{url}"\n\n[auth]\nissuer = "http://testserver"\n',
                         format="toml")
    return Interware(config=config, database=database, clock=fake_clock, hooks=make_plugin_manager(()))


@pytest.fixture
def client(iw: Interware, tmp_path: Path) -> Iterator[TestClient]:
    """A test client of the app, keeping sandboxes in ``tmp_path``."""
    settings = ServerSettings(max_body_bytes=64 * 1024, sandbox_dir=str(tmp_path / "sandboxes"))
    with TestClient(create_app(iw, settings)) as test_client:
        yield test_client


def _public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def _api_routes(routes: list[Any], prefix: str = "") -> list[tuple[str, APIRoute]]:
    """``(path, route)`` of every APIRoute of an app, hidden ones included (FastAPI 0.165 keeps
    included routers nested, with the prefix of the include)."""
    found: list[tuple[str, APIRoute]] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append((prefix + route.path_format, route))  # "{name:path}" as OpenAPI says "{name}"
        elif hasattr(route, "original_router"):
            found += _api_routes(route.original_router.routes, prefix + route.include_context.prefix)
    return found


def test_every_route_but_the_public_ones_needs_a_token(client: TestClient) -> None:
    app: Any = client.app
    routes = _api_routes(app.routes)
    documented = {(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item}
    assert documented <= {(m, path) for path, r in routes for m in r.methods}  # the walk misses no route
    checked = []
    for template, route in routes:
        if _public(template):
            continue
        path = re.sub(r"\{[^}]+\}", "1", template)
        if template.startswith("/portal/"):  # pages: no session cookie -> sent to the login page
            for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
                answer = client.request(method, path, follow_redirects=False)
                assert answer.status_code in {303, 401, 403}, (method, template, answer.status_code)
                if answer.status_code == 303:
                    assert answer.headers["location"].startswith("/portal/login"), (method, template)
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            answer = client.request(method, path)
            assert answer.status_code == 401, (method, template, answer.status_code, answer.text)
            assert answer.headers["www-authenticate"] == "Bearer", (method, template)
            checked.append((method, template))
    # the walk reached every system the server exposes
    for prefix in ("/api/jobs", "/api/pilots", "/api/catalog", "/api/requests", "/api/transformations",
                   "/api/productions", "/api/config", "/api/status"):
        assert any(path.startswith(prefix) for _, path in checked), prefix
    assert len(checked) >= 50


def test_the_signed_sandbox_urls_refuse_a_forged_token(client: TestClient) -> None:
    download = client.get("/api/jobs/sandbox/download", params={"token": "x.y.z"})
    assert download.status_code == 401
    upload = client.post("/api/jobs/sandbox/upload", data={"token": "x.y.z"},
                         files={"file": ("sb.tar.bz2", b"bytes")})
    assert upload.status_code == 401


def test_routes_test_no_property_themselves() -> None:
    """Property checks live in ``dirac_core.authorization``: a route asks it, never ``identity.has``."""
    routes = Path(__file__).parents[2] / "dirac_server"
    offenders = [str(path) for path in sorted(routes.rglob("*.py"))
                 if "identity.has(" in path.read_text() or "Property." in path.read_text()]
    assert offenders == []


def _submit(client: TestClient, headers: dict[str, str], count: int = 1) -> list[int]:
    answer = client.post("/api/jobs/jdl", json=[JDL] * count, headers=headers)
    assert answer.status_code == 201, answer.text
    return [job["JobID"] for job in answer.json()]


def test_another_users_job_is_answered_as_missing(client: TestClient, iw: Interware) -> None:
    [job] = _submit(client, bearer(iw, USER))
    bob = bearer(iw, BOB)
    for path in (f"/api/jobs/{job}/jdl", f"/api/jobs/{job}/history", f"/api/jobs/{job}/sandbox"):
        answer = client.get(path, headers=bob)
        assert (answer.status_code, answer.json()) == (404, {"detail": f"job {job} not found"}), path
    killed = client.post("/api/jobs/kill", json={"job_ids": [job]}, headers=bob)
    assert killed.json() == {"success": {}, "failed": {str(job): {"detail": f"job {job} not found"}}}
    stranger = client.get(f"/api/jobs/{job}/jdl", headers=bearer(iw, ("olga", "other", "other_prod")))
    assert stranger.status_code == 404
    assert job_row(client, bearer(iw, USER), job)["Status"] == "Waiting"


def test_a_pilot_may_not_update_a_job_it_does_not_hold(client: TestClient, iw: Interware,
                                                      fake_clock: FakeClock) -> None:
    first, second = _submit(client, bearer(iw, USER), 2)
    one = {"Authorization": f"Bearer {iw.auth.tokens.issue_pilot('demo', 'stamp-1')}"}
    two = {"Authorization": f"Bearer {iw.auth.tokens.issue_pilot('demo', 'stamp-2')}"}
    held = {client.post("/api/jobs/match", json=RESOURCE, headers=h).json()["JobID"]: h for h in (one, two)}
    assert set(held) == {first, second}
    theirs = first if held[first] is two else second
    running = {stamp(fake_clock): {"Status": "Running", "Source": "JobWrapper"}}
    refused = client.patch("/api/jobs/status", json={str(theirs): running}, headers=one)
    assert refused.status_code == 403, refused.text
    assert refused.json()["failed"] == {str(theirs): {"detail": f"job {theirs} is not held by pilot stamp-1"}}
    acting = client.post("/api/requests", json=[], headers={**one, "X-Dirac-Job": str(theirs)})
    assert acting.status_code == 403 and "is not a job of pilot stamp-1" in acting.json()["detail"]
    assert iw.wms.get_jobs([theirs])[theirs]["status"] == "Matched"
    own = first + second - theirs
    assert client.patch("/api/jobs/status", json={str(own): running}, headers=one).status_code == 200


def test_a_normal_user_may_not_create_a_transformation_and_route_and_engine_agree(
        client: TestClient, iw: Interware) -> None:
    for who in (USER, SERVICE):  # a ServiceAdministrator neither: its jobs could not be submitted
        refused = client.post("/api/transformations", json=copy_spec(f"by-{who[0]}"), headers=bearer(iw, who))
        assert refused.status_code == 403, refused.text
        with pytest.raises(PermissionDenied) as engine:
            iw.transformations.create(spec_from_json(copy_spec(f"by-{who[0]}")), iw.identity(who[0], who[2]))
        assert refused.json()["detail"] == str(engine.value)
        assert "needs ProductionManagement" in str(engine.value)
    assert iw.transformations.transformations() == []


def test_a_service_administrator_changes_transformations_and_productions(client: TestClient,
                                                                        iw: Interware) -> None:
    manager, service = bearer(iw, MANAGER), bearer(iw, SERVICE)
    tid = client.post("/api/transformations", json=copy_spec(), headers=manager).json()["transformation_id"]
    assert client.post(f"/api/transformations/{tid}/start", headers=service).json()["status"] == "Active"
    assert client.post(f"/api/transformations/{tid}/stop", headers=bearer(iw, USER)).status_code == 403
    step = {"name": "copy", "type": "Replication", "group_size": 1, "parameters": {"TargetSE": "SE-B-disk"}}
    made = client.post("/api/productions", json={"name": "p", "steps": [step]}, headers=manager)
    assert made.status_code == 201, made.text
    pid = made.json()["production_id"]
    assert client.post(f"/api/productions/{pid}/start", headers=manager).json()["status"] == "Active"
    stopped = client.post(f"/api/productions/{pid}/stop", headers=service)  # the engine agrees now
    assert (stopped.status_code, stopped.json()["status"]) == (200, "Stopped")
    refused = client.post(f"/api/productions/{pid}/start", headers=bearer(iw, USER))
    assert refused.status_code == 403 and "needs ProductionManagement or ServiceAdministrator" in refused.text


def test_the_configuration_secrets_need_cs_administrator(client: TestClient, iw: Interware) -> None:
    plain = client.get("/api/config/", headers=bearer(iw, USER))
    assert plain.status_code == 200
    assert "password_hash" not in plain.json()["registry"]["users"]["alice"]
    assert SECRET not in plain.text
    for who in (USER, SERVICE):
        refused = client.get("/api/config/", params={"include_secrets": "true"}, headers=bearer(iw, who))
        assert refused.status_code == 403 and "needs CSAdministrator" in refused.json()["detail"]
    whole = client.get("/api/config/", params={"include_secrets": "true"}, headers=bearer(iw, CS_ADMIN))
    assert whole.status_code == 200 and whole.headers["cache-control"] == "no-store"
    assert whole.json()["registry"]["users"]["alice"]["password_hash"] == SECRET


def _failed_type(answer: Any, path: str) -> str | None:
    assert answer.status_code == 200, answer.text
    failed = answer.json()["failed"].get(path)
    return None if failed is None else str(failed["type"])


def test_catalog_administration_needs_file_catalog_management_of_the_vo(client: TestClient,
                                                                        iw: Interware) -> None:
    field = {"name": "year", "type": "int", "for_files": False}
    refused = client.post("/api/catalog/metadata/fields", json=field, headers=bearer(iw, USER))
    assert refused.status_code == 403 and refused.json()["error"]["type"] == "PermissionDenied"
    assert client.get("/api/catalog/metadata/fields", headers=bearer(iw, USER)).json() == []
    admin, other_admin = bearer(iw, DEMO_CATALOG), bearer(iw, OTHER_CATALOG)
    assert client.post("/api/catalog/metadata/fields", json=field, headers=admin).status_code == 200
    # the fields are the whole catalog's: any VO's administrator declares them
    again = {**field, "name": "run"}
    assert client.post("/api/catalog/metadata/fields", json=again, headers=other_admin).status_code == 200
    # entries: an administrator's own VO only; elsewhere the modes (775 here) apply as to anyone
    def mkdir(path: str, headers: dict[str, str]) -> str | None:
        return _failed_type(client.post("/api/catalog/directories", json={"paths": [path]}, headers=headers),
                            path)

    assert mkdir("/other/data", other_admin) is None
    assert mkdir("/demo/data", admin) is None
    assert mkdir("/other/data/x", admin) == "PermissionDenied"
    assert mkdir("/demo/data/x", other_admin) == "PermissionDenied"
    assert mkdir("/demo/data/x", admin) is None
    assert mkdir("/demo/data/y", bearer(iw, BOB)) == "PermissionDenied"  # not its directory
