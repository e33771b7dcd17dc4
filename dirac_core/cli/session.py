"""``dirac-core login / logout / whoami``: DiracX's device flow and credentials file.

The credentials file is DiracX's (``DIRACX_CREDENTIALS_PATH``, default
``~/.cache/diracx/credentials.json``): a login made here works for DiracX's
own CLI and the other way round.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

__all__ = ["CLIENT_ID", "credentials_path", "read_credentials", "register", "write_credentials"]

CLIENT_ID = "myDIRACClientID"
_DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

UrlOption = Annotated[str | None, typer.Option(envvar="DIRACX_URL", help="The server's URL.")]


def credentials_path() -> Path:
    """Where the token pair is kept (DiracX's default unless ``DIRACX_CREDENTIALS_PATH``)."""
    env = os.environ.get("DIRACX_CREDENTIALS_PATH")
    return Path(env) if env else Path.home() / ".cache" / "diracx" / "credentials.json"


def write_credentials(tokens: dict[str, Any], path: Path | None = None) -> Path:
    """Store a token response as DiracX's credentials file (mode 0600)."""
    target = path or credentials_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    data = {"access_token": tokens["access_token"], "refresh_token": tokens.get("refresh_token"),
            "expires_on": int(time.time()) + int(tokens["expires_in"]) - 15}
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out)
    return target


def read_credentials(path: Path | None = None) -> dict[str, Any] | None:
    """The stored token pair, or None."""
    target = path or credentials_path()
    try:
        data = json.loads(target.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("access_token") else None


def _url(url: str | None) -> str:
    if not url:
        raise typer.BadParameter("give --url (or set DIRACX_URL)")
    return url.rstrip("/")


def login(*, url: UrlOption = None,
          vo: Annotated[str, typer.Argument(help="The VO to log in to.")] = "",
          group: Annotated[str | None, typer.Option(help="Group (default: the VO's).")] = None,
          timeout: Annotated[int, typer.Option(help="Seconds to wait for the approval.")] = 600,
          proxy: Annotated[Path | None, typer.Option(help="Log in with this X.509 proxy file instead "
                                                          "(its VO and group are the proxy's).")] = None,
          ) -> None:
    """Log in with the device flow: open the printed address, then come back (or, with
    --proxy, with an X.509 proxy made by ``dirac-core proxy init``)."""
    base = _url(url)
    console = Console()
    if proxy is not None:
        _proxy_login(base, proxy, vo or group)
        return
    with httpx.Client(base_url=base, timeout=30) as http:
        if not vo:
            vos = sorted(http.get("/.well-known/dirac-metadata").json()["virtual_organizations"])
            if len(vos) != 1:
                raise typer.BadParameter(f"name the VO: one of {', '.join(vos)}")
            vo = vos[0]
        scope = f"vo:{vo}" + (f" group:{group}" if group else "")
        started = http.post("/api/auth/device", params={"client_id": CLIENT_ID, "scope": scope})
        if started.status_code != 200:
            console.print(f"[red]login refused[/red]: {started.json().get('detail', started.text)}")
            raise typer.Exit(1)
        flow = started.json()
        console.print(f"Now go to: {flow['verification_uri_complete']}")
        deadline = time.monotonic() + min(timeout, int(flow["expires_in"]))
        while time.monotonic() < deadline:
            answer = http.post("/api/auth/token", data={
                "grant_type": _DEVICE_GRANT, "device_code": flow["device_code"],
                "client_id": CLIENT_ID})
            if answer.status_code == 200:
                path = write_credentials(answer.json())
                console.print(f"Saved credentials to {path}\nLogin successful!")
                return
            if answer.json().get("error") != "authorization_pending":
                console.print(f"[red]login failed[/red]: {answer.json().get('detail', answer.text)}")
                raise typer.Exit(1)
            time.sleep(2)  # the polling interval of RFC 8628 (a real wait for a person)
    console.print("[red]login failed[/red]: not approved in time")
    raise typer.Exit(1)


def _proxy_login(base: str, proxy: Path, vo_or_group: str | None) -> None:
    from dirac_core.cli.proxy import login_with_proxy
    from dirac_core.errors import DiracError

    if vo_or_group:
        raise typer.BadParameter("with --proxy the VO and group are the proxy's (dirac-core proxy init)")
    try:
        path = write_credentials(login_with_proxy(base, proxy))
    except DiracError as exc:
        Console().print(f"[red]login failed[/red]: {exc}")
        raise typer.Exit(1) from None
    Console().print(f"Saved credentials to {path}\nLogin successful!")


def logout(*, url: UrlOption = None) -> None:
    """Revoke the stored login on the server and delete the credentials file."""
    stored = read_credentials()
    path = credentials_path()
    if stored is None:
        Console().print("not logged in")
        return
    if stored.get("refresh_token"):
        try:
            httpx.post(f"{_url(url)}/api/auth/revoke", timeout=30, data={
                "token": stored["refresh_token"], "token_type_hint": "refresh_token",
                "client_id": CLIENT_ID})
        except httpx.HTTPError as exc:
            Console(stderr=True).print(f"[yellow]could not revoke on the server[/yellow]: {exc}")
    path.unlink(missing_ok=True)
    Console().print(f"Removed credentials from {path}\nLogout successful!")


def _local_identity(local: Path, user: str | None, group: str | None) -> dict[str, Any]:
    """Who a ``--local`` command acts as, in the shape of the server's ``userinfo``."""
    from dirac_core.errors import DiracError
    from dirac_core.interware import Interware

    try:
        with Interware.embedded(local) as iw:
            name = user or next(iter(sorted(iw.config.registry.users)))
            me = iw.identity(name, group)
    except DiracError as exc:
        Console(stderr=True).print(f"[red]error[/red]: {exc}")
        raise typer.Exit(1) from None
    return {"sub": me.user, "preferred_username": me.user, "dirac_group": me.group, "vo": me.vo,
            "properties": sorted(me.properties)}


def whoami(*, url: UrlOption = None,
           local: Annotated[Path | None, typer.Option(help="Embedded interware directory.")] = None,
           user: Annotated[str | None, typer.Option(help="With --local: the user to act as.")] = None,
           group: Annotated[str | None, typer.Option(help="With --local: the group.")] = None,
           as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False) -> None:
    """Who the stored login is (or, with --local, who the embedded commands act as)."""
    if local is not None:
        if url is not None:
            raise typer.BadParameter("give either --url URL or --local PATH, not both")
        info = _local_identity(local, user, group)
    else:
        info = _remote_identity(url)
    if as_json:
        typer.echo(json.dumps(info))
        return
    Console().print(f"{info['preferred_username']} in group {info['dirac_group']} of VO {info['vo']}"
                    f" ({', '.join(info['properties']) or 'no properties'})")


def _remote_identity(url: str | None) -> dict[str, Any]:
    stored = read_credentials()
    if stored is None:
        Console().print("not logged in")
        raise typer.Exit(1)
    answer = httpx.get(f"{_url(url)}/api/auth/userinfo", timeout=30,
                       headers={"Authorization": f"Bearer {stored['access_token']}"})
    if answer.status_code != 200:
        Console().print(f"[red]not authenticated[/red]: {answer.json().get('detail', answer.text)}")
        raise typer.Exit(1)
    info: dict[str, Any] = answer.json()
    return info


def register(app: typer.Typer) -> None:
    """Add ``login``, ``logout`` and ``whoami`` to the root app."""
    for command in (login, logout, whoami):
        app.command()(command)
