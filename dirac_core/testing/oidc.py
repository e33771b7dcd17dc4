"""A real OpenID provider on a loopback port, for tests of the ``oidc`` identity provider.

:func:`oidc_provider` runs the npm package ``oidc-provider`` (9.x, ESM) with
this machine's Node.js, as a child of this process, on a free port of
127.0.0.1: over http, or over https with a certificate of a throw-away
:class:`~dirac_core.testing.pki.TestCA` when ``tls=True``. The package is
installed once with ``npm install oidc-provider@9`` into a cache folder
(``~/.cache/dirac-core-test/oidc``, or ``$DIRAC_TEST_CACHE/oidc``) and reused
by every later run; the script (``oidc_provider.mjs``) and a link to that
``node_modules`` are written into the test's own folder.

The provider uses its development login pages (``devInteractions``): any
login name is accepted with any password, and the account's claims come
as the subject (``sub``), and the account's other claims come from a JSON
file that :meth:`OidcServer.add_account` writes (email, groups), read again
at every login. Relying parties register themselves
(:meth:`OidcServer.register_client`, RFC 7591), so each test registers its
own confidential client with its own redirect URI. ID tokens carry the
claims of the scopes asked for (``conformIdTokenClaims: false``); the
``groups`` scope gives the ``groups`` claim.

People log in headlessly over HTTP, as a browser would: :meth:`OidcServer.approve_device`
enters a device flow's user code and logs in; :meth:`OidcServer.browse`
follows an authorization request through the login and consent forms until
the redirect to the relying party.

It installs no system package: without ``node``/``npm`` (or when npm cannot
reach its registry the first time) it raises :class:`ComponentUnavailable`.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import html.parser
import json
import os
import secrets
import shutil
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import attrs
import httpx

from dirac_core.testing._daemons import (
    ComponentUnavailable,
    Daemon,
    free_port,
    require_binaries,
    run_checked,
    wait_until,
)
from dirac_core.testing.pki import TestCA

__all__ = ["PACKAGE", "ComponentUnavailable", "OidcServer", "cache_dir", "install_package", "oidc_missing",
           "oidc_provider"]

#: the npm package (and major version) the harness runs
PACKAGE = "oidc-provider@9"
_START_ATTEMPTS = 3
_MAX_STEPS = 20


def cache_dir() -> Path:
    """Where the npm package is installed once for every run."""
    root = os.environ.get("DIRAC_TEST_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "dirac-core-test"
    return base / "oidc"


def oidc_missing() -> str | None:
    """Why :func:`oidc_provider` cannot run here (``node`` or ``npm`` missing), or None."""
    try:
        require_binaries(["node", "npm"])
    except ComponentUnavailable as exc:
        return f"{exc} (Debian's nodejs and npm)"
    return None


def install_package(cache: Path | None = None) -> Path:
    """The ``node_modules`` folder holding :data:`PACKAGE`, installed with npm on first use.

    Concurrent test sessions wait for each other on a lock file. Raises
    :class:`ComponentUnavailable` when npm fails (no network the first time).
    """
    folder = cache or cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    modules = folder / "node_modules"
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (modules / "oidc-provider" / "package.json").exists():
            programs = require_binaries(["npm"])
            if not (folder / "package.json").exists():
                (folder / "package.json").write_text('{"name": "dirac-core-test-oidc", "private": true}\n')
            run_checked([programs["npm"], "install", "--no-audit", "--no-fund", "--prefix", str(folder),
                         PACKAGE], timeout=300)
    return modules


@attrs.frozen
class RegisteredClient:
    """A relying party registered at the provider."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]


@attrs.frozen(kw_only=True)
class OidcServer:
    """A running test provider: its issuer URL, its CA (https only), its log."""

    issuer: str
    #: the CA file a client verifies an https provider with (None over http)
    ca_file: Path | None
    log_path: Path
    accounts_file: Path

    def _http(self) -> httpx.Client:
        return httpx.Client(verify=_verify(self.ca_file), timeout=30)

    def add_account(self, subject: str, **claims: Any) -> None:
        """Give the person who logs in as ``subject`` (the login name is the subject) the
        ``claims`` ``email``, ``email_verified``, ``groups``, ... (none by default)."""
        accounts = json.loads(self.accounts_file.read_text())
        accounts[subject] = claims
        tmp = self.accounts_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(accounts))
        tmp.replace(self.accounts_file)

    def register_client(self, redirect_uris: Sequence[str], *, name: str = "dirac-core") -> RegisteredClient:
        """Register a confidential client (secret in HTTP Basic) for the code and device grants."""
        body = {"client_name": name, "redirect_uris": list(redirect_uris), "response_types": ["code"],
                "grant_types": ["authorization_code", "refresh_token",
                                "urn:ietf:params:oauth:grant-type:device_code"],
                "token_endpoint_auth_method": "client_secret_basic"}
        with self._http() as http:
            answer = http.post(f"{self.issuer}/reg", json=body)
        if answer.status_code != 201:
            raise ComponentUnavailable(f"client registration refused: {answer.status_code} {answer.text}")
        data = answer.json()
        return RegisteredClient(data["client_id"], data["client_secret"], tuple(redirect_uris))

    def approve_device(self, user_code: str, login: str) -> str:
        """Enter ``user_code`` at the provider's device page and log in as ``login``; the text of
        the last page ("Sign-in Success" when it worked)."""
        with self._http() as http:
            page = http.get(f"{self.issuer}/device", params={"user_code": user_code})
            for _ in range(_MAX_STEPS):
                form = _first_form(page.text)
                if page.is_redirect:
                    page = http.get(urljoin(str(page.url), page.headers["location"]))
                elif form is None:
                    return page.text
                else:
                    page = _submit(http, page, form, login)
        raise ComponentUnavailable("the device login did not finish")

    def browse(self, http: httpx.Client, url: str, login: str, *, stop_at: str,
               consent: bool = True) -> str:
        """Follow ``url`` (an authorization request) through the provider's login (as ``login``)
        and consent pages, and through any redirect, until one leads to an address starting
        with ``stop_at``; return that address. ``http`` keeps the cookies (a browser's session).
        ``consent=False`` aborts at the consent page instead (the person says no)."""
        target = url
        for _ in range(_MAX_STEPS):
            if target.startswith(stop_at):
                return target
            page = http.get(target)
            while not page.is_redirect:
                form = _first_form(page.text)
                if form is None:
                    raise ComponentUnavailable(f"no form and no redirect at {page.url}: "
                                               f"{page.status_code} {page.text[:500]}")
                if not consent and form.fields.get("prompt") == "consent":
                    page = http.get(urljoin(str(page.url), f"{form.action.rstrip('/')}/abort"))
                    continue
                page = _submit(http, page, form, login)
            target = urljoin(str(page.url), page.headers["location"])
        raise ComponentUnavailable(f"the login did not reach {stop_at}")


@attrs.define
class _Form:
    action: str
    fields: dict[str, str]


class _FormParser(html.parser.HTMLParser):
    """The first ``<form>`` of a page: its action and its inputs' names and values."""

    def __init__(self) -> None:
        super().__init__()
        self.form: _Form | None = None
        self._inside = False

    def handle_starttag(self, tag: str, attrs_: list[tuple[str, str | None]]) -> None:
        found = {key: value or "" for key, value in attrs_}
        if tag == "form" and self.form is None:
            self.form = _Form(found.get("action", ""), {})
            self._inside = True
        elif tag == "input" and self._inside and self.form is not None and found.get("name"):
            self.form.fields[found["name"]] = found.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False


def _first_form(text: str) -> _Form | None:
    parser = _FormParser()
    parser.feed(text)
    return parser.form


def _submit(http: httpx.Client, page: httpx.Response, form: _Form, login: str) -> httpx.Response:
    fields = dict(form.fields)
    if "login" in fields:
        fields.update(login=login, password="any password")  # noqa: S106 - devInteractions check none
    return http.post(urljoin(str(page.url), form.action), data=fields)


def _verify(ca_file: Path | None) -> ssl.SSLContext | bool:
    return ssl.create_default_context(cafile=str(ca_file)) if ca_file else True


def _answers(url: str, ca_file: Path | None) -> bool:
    try:
        return httpx.get(url, timeout=2, verify=_verify(ca_file)).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def oidc_provider(tmp_dir: Path, *, tls: bool = False, start_timeout: float = 60,
                  cache: Path | None = None) -> Iterator[OidcServer]:
    """Run the test provider on 127.0.0.1 until the block ends (see the module docstring).

    Its files and log (``oidc.log``) go to ``tmp_dir/oidc``. Raises
    :class:`ComponentUnavailable` when node or npm is missing, npm cannot
    install the package, or the provider does not answer its discovery URL
    within ``start_timeout`` seconds; the provider is stopped on exit.
    """
    missing = oidc_missing()
    if missing:
        raise ComponentUnavailable(missing)
    node = require_binaries(["node"])["node"]
    modules = install_package(cache)
    folder = Path(tmp_dir) / "oidc"
    folder.mkdir(parents=True, exist_ok=True)
    # ESM resolves "oidc-provider" from the script's folder upwards: link the cached install there
    link = folder / "node_modules"
    if not link.exists():
        link.symlink_to(modules, target_is_directory=True)
    script = folder / "provider.mjs"
    shutil.copyfile(str(resources.files("dirac_core.testing") / "oidc_provider.mjs"), script)
    accounts = folder / "accounts.json"
    accounts.write_text("{}")
    ca_file = cert = key = None
    if tls:
        ca = TestCA(folder / "pki", dn_prefix=("org", "dirac-test", secrets.token_hex(4)))
        host = ca.host_cert(["127.0.0.1", "localhost"])
        ca_file, cert, key = ca.files.cert, host.cert, host.key
    log_path = folder / "oidc.log"
    failure = "not started"
    for _attempt in range(_START_ATTEMPTS):
        # a free port may be taken between our probe and node's bind: try another one
        port = free_port()
        issuer = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        settings = {"issuer": issuer, "port": port, "accounts_file": str(accounts),
                    "cookie_key": secrets.token_urlsafe(24),
                    "tls_cert": str(cert) if cert else None, "tls_key": str(key) if key else None}
        settings_path = folder / "settings.json"
        settings_path.write_text(json.dumps(settings))
        daemon = Daemon("oidc-provider", [node, str(script), str(settings_path)], log_path=log_path)
        try:
            wait_until(functools.partial(_answers, f"{issuer}/.well-known/openid-configuration", ca_file),
                       timeout=start_timeout, what=f"oidc-provider on port {port}", alive=daemon.dead)
        except ComponentUnavailable as exc:
            daemon.stop()
            failure = str(exc)
            continue
        try:
            yield OidcServer(issuer=issuer, ca_file=ca_file, log_path=log_path, accounts_file=accounts)
        finally:
            with contextlib.suppress(OSError):
                daemon.stop()
        return
    raise ComponentUnavailable(failure)
