"""``dirac-core proxy init / info`` and the proxy side of ``dirac-core login --proxy``.

``proxy init`` makes an RFC 3820 proxy of the user's certificate (or of
another proxy) carrying the VO and group to log in to, and writes the usual
single PEM file with mode 0600 (``$X509_USER_PROXY``, default
``/tmp/x509up_u<uid>``), as ``voms-proxy-init`` and ``dirac-proxy-init`` do.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console

from dirac_core.auth.x509.attributes import ProxyAttributes
from dirac_core.auth.x509.names import grid_dn
from dirac_core.auth.x509.proxy import ProxyCredential, create_proxy, load_credential
from dirac_core.auth.x509.verify import describe_chain
from dirac_core.client.proxy_login import proxy_login, read_proxy
from dirac_core.errors import DiracError
from dirac_core.model.clock import SystemClock

__all__ = ["default_proxy_path", "login_with_proxy", "proxy_app"]

proxy_app = typer.Typer(help="X.509 proxies: make one, show one.", no_args_is_help=True)


def default_proxy_path() -> Path:
    """``$X509_USER_PROXY``, else ``/tmp/x509up_u<uid>`` (Globus's place)."""
    env = os.environ.get("X509_USER_PROXY")
    return Path(env) if env else Path(f"/tmp/x509up_u{os.getuid()}")  # noqa: S108 (the standard place)


def _globus(name: str, env: str) -> Path:
    found = os.environ.get(env)
    return Path(found) if found else Path.home() / ".globus" / name


def _issuer(cert: Path, key: Path | None) -> ProxyCredential:
    """The credential to sign with: a certificate and its key (asking for the pass phrase when
    the key is encrypted), or a proxy file holding both."""
    cert_pem = cert.read_bytes()
    key_pem = key.read_bytes() if key is not None and key.exists() and b"PRIVATE KEY" not in cert_pem \
        else None
    try:
        return load_credential(cert_pem, key_pem)
    except TypeError:  # an encrypted key and no password
        phrase = typer.prompt(f"Pass phrase of {key}", hide_input=True)
        return load_credential(cert_pem, key_pem, password=phrase.encode())


@proxy_app.command("init")
def init(*, vo: Annotated[str | None, typer.Option(help="The VO to log in to.")] = None,
         group: Annotated[str | None, typer.Option(help="The DIRAC group (default: the server's "
                                                         "choice from the FQAN or the VO).")] = None,
         fqan: Annotated[list[str] | None, typer.Option(help="VOMS-style FQANs, e.g. /astro/Role=prod "
                                                             "(primary first).")] = None,
         cert: Annotated[Path | None, typer.Option(help="User certificate, or a proxy file "
                                                        "(default: ~/.globus/usercert.pem).")] = None,
         key: Annotated[Path | None, typer.Option(help="Its key (default: ~/.globus/userkey.pem).")] = None,
         hours: Annotated[float, typer.Option(help="Lifetime (never beyond the certificate's).")] = 12.0,
         bits: Annotated[int, typer.Option(help="Key size of the proxy.")] = 2048,
         path_length: Annotated[int | None, typer.Option(help="Proxies that may be made from it.")] = None,
         out: Annotated[Path | None, typer.Option(help="Where to write it (default: $X509_USER_PROXY "
                                                       "or /tmp/x509up_u<uid>).")] = None) -> None:
    """Make a proxy of your certificate, with the VO and group to log in to."""
    if (group or fqan) and not vo:
        raise typer.BadParameter("--group and --fqan need --vo")
    cert = cert or _globus("usercert.pem", "X509_USER_CERT")
    key = key or _globus("userkey.pem", "X509_USER_KEY")
    target = out or default_proxy_path()
    try:
        attributes = ProxyAttributes(vo=vo, group=group, fqans=tuple(fqan or ())) if vo else None
        issuer = _issuer(cert, key)
        proxy = create_proxy(issuer, clock=SystemClock(), lifetime=timedelta(hours=hours), key_size=bits,
                             path_length=path_length, attributes=attributes)
        proxy.write(target)
    except (OSError, ValueError) as exc:
        Console(stderr=True).print(f"[red]proxy init failed[/red]: {exc}")
        raise typer.Exit(1) from None
    left = proxy.time_left(SystemClock())
    Console().print(f"Proxy of {grid_dn(issuer.cert.subject)} written to {target}, valid "
                    f"{left.total_seconds() / 3600:.1f} h" + (f" for VO {vo}" if vo else ""))


@proxy_app.command("info")
def info(path: Annotated[Path | None, typer.Argument(
        help="The proxy file (default: $X509_USER_PROXY or /tmp/x509up_u<uid>).")] = None) -> None:
    """Show a proxy file: identity, time left, attributes."""
    target = path or default_proxy_path()
    try:
        proxy = read_proxy(target)
        depth, attributes = describe_chain(proxy.certificates)
    except (DiracError, ValueError) as exc:
        Console(stderr=True).print(f"[red]cannot read {target}[/red]: {exc}")
        raise typer.Exit(1) from None
    console = Console()
    identity = proxy.certificates[min(depth, len(proxy.certificates) - 1)]
    console.print(f"subject  : {grid_dn(proxy.cert.subject)}")
    console.print(f"identity : {grid_dn(identity.subject)}")
    console.print(f"proxies  : {depth}")
    seconds = max(0, int(proxy.time_left(SystemClock()).total_seconds()))
    console.print(f"time left: {seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}")
    if attributes is not None:
        console.print(f"VO       : {attributes.vo}")
        console.print(f"group    : {attributes.group or '(the server chooses)'}")
        for item in attributes.fqans:
            console.print(f"attribute: {item}")


def login_with_proxy(url: str, path: Path) -> dict[str, object]:
    """A proxy login at ``url`` with the proxy file ``path``; the token response."""
    proxy = read_proxy(path)
    with httpx.Client(base_url=url, timeout=30) as http:
        return proxy_login(http, proxy)
