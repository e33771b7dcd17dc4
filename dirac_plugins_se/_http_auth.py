"""TLS credentials and bearer tokens for the HTTPS storage drivers."""

from __future__ import annotations

import os
import ssl
from collections.abc import Generator
from pathlib import Path

import httpx

from dirac_core.errors import StorageError

__all__ = ["BearerToken", "tls_context", "tls_failure"]


def tls_context(ca: str | None, cert_file: str | None, key_file: str | None) -> ssl.SSLContext:
    """A client context trusting ``ca`` (a PEM file or hashed directory; None: the system's CAs).

    ``cert_file``/``key_file`` are presented when given (a proxy holds both in
    ``cert_file``). Raises :class:`StorageError` naming the files when one
    cannot be loaded.
    """
    try:
        if ca is not None and os.path.isdir(ca):
            context = ssl.create_default_context(capath=ca)
        else:
            context = ssl.create_default_context(cafile=ca)
        if cert_file:
            context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as exc:
        raise StorageError(f"cannot load TLS credentials (ca={ca}, cert={cert_file}, key={key_file}): {exc}",
                           ca=ca, cert_file=cert_file, key_file=key_file) from exc
    return context


def tls_failure(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error behind ``exc`` (httpx reports a refused certificate as a ConnectError), if any."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class BearerToken(httpx.Auth):
    """``Authorization: Bearer`` from a fixed token or from a file read at each request."""

    def __init__(self, token: str | None, token_file: str | None) -> None:
        self.token, self.token_file = token, token_file

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.token
        if self.token_file is not None:
            try:
                token = Path(self.token_file).read_text().strip()
            except OSError as exc:
                raise StorageError(f"cannot read the token file {self.token_file}: {exc.strerror or exc}",
                                   token_file=self.token_file) from exc
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        yield request
