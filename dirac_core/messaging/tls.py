"""TLS of a message-queue driver: the options, checked when the driver is built (:func:`tls_settings`).

A driver with ``tls = true`` verifies the broker's certificate against ``ca_file`` (default: the
system's store) and, with ``verify_hostname`` (default), that it names the host the driver dials;
``cert_file`` and ``key_file`` give a client certificate when the broker asks for one. Every file
is read once when the driver is built, so a missing, unreadable or wrong file is a ``ConfigError``
naming its option and path then, not a broker that seems to be away at the first message. A key
file's contents never appear in a message: the errors name the file and OpenSSL's reason only.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any

from attrs import frozen

from dirac_core.errors import ConfigError

__all__ = ["TlsSettings", "tls_settings"]

_FILE_OPTIONS = ("ca_file", "cert_file", "key_file")


class _EncryptedKey(Exception):
    """Raised from the key password callback: an encrypted key would make OpenSSL prompt on the
    terminal of a service (stomp.py gives no password)."""


def _no_password() -> str:
    raise _EncryptedKey


@frozen(kw_only=True)
class TlsSettings:
    """Checked TLS options of a driver (see the module); build with :func:`tls_settings`."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    verify_hostname: bool = True
    #: where the options live in the configuration, for error messages
    section: str = "messaging.options"

    def context(self) -> ssl.SSLContext:
        """A client context made as the driver's connections are (broker verified, client
        certificate loaded). Raises ``ConfigError`` naming the option when a file cannot be used."""
        problems = self._unreadable()
        if problems:
            raise ConfigError(problems)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # TLS >= 1.2, certificate required
        context.check_hostname = self.verify_hostname
        try:
            if self.ca_file:
                context.load_verify_locations(cafile=self.ca_file)
            else:
                context.load_default_certs()
        except ssl.SSLError as exc:
            raise ConfigError([(f"{self.section}.ca_file",
                                f"{self.ca_file}: no CA certificate in PEM ({_reason(exc)})")]) from None
        if self.cert_file:
            try:
                key_file = self.key_file or self.cert_file
                context.load_cert_chain(self.cert_file, key_file, password=_no_password)
            except _EncryptedKey:
                raise ConfigError([(f"{self.section}.key_file",
                                    f"{key_file}: the private key is encrypted; give an unencrypted "
                                    "key file that only this service can read")]) from None
            except ssl.SSLError as exc:
                key = f" with key_file {self.key_file}" if self.key_file else ""
                raise ConfigError([(f"{self.section}.cert_file",
                                    f"{self.cert_file}{key}: not a certificate and its private key in PEM "
                                    f"({_reason(exc)})")]) from None
        return context

    def stomp_ssl(self) -> dict[str, Any]:
        """The keyword arguments of stomp.py's ``Connection.set_ssl`` (without ``for_hosts``)."""
        # stomp.py builds its context from ``ssl_version`` and only turns the name check off with
        # verification as a whole (jasonrbriggs/stomp.py#398). The generic protocol keeps
        # verification and starts with the name check off; Python calls it deprecated (a
        # DeprecationWarning from stomp.transport), PROTOCOL_TLS_CLIENT would force the check.
        version = ssl.PROTOCOL_TLS_CLIENT if self.verify_hostname else ssl.PROTOCOL_TLS
        return {"ca_certs": self.ca_file, "cert_file": self.cert_file, "key_file": self.key_file,
                "verify": True, "ssl_version": version}

    def diagnose(self, host: str, port: int, *, timeout: float) -> str | None:
        """Why a TLS connection to ``host:port`` fails, found by one handshake made like the
        driver's (the broker's certificate, then its answer to ours); None when nothing is wrong
        with TLS (the broker is away, or it worked this time)."""
        try:
            context = self.context()
        except ConfigError as exc:
            return "; ".join(f"{path}: {why}" for path, why in exc.problems)
        try:
            with socket.create_connection((host, port), timeout=timeout) as raw, \
                    context.wrap_socket(raw, server_hostname=host) as tls:
                # TLS 1.3: a broker refusing our certificate says so after the handshake
                tls.settimeout(min(timeout, 1.0))
                tls.recv(1)
        except ssl.SSLCertVerificationError as exc:
            return f"the broker's certificate was not accepted: {exc.verify_message}"
        except ssl.SSLError as exc:
            reason = _reason(exc)
            if "ALERT" in reason:  # the broker ended the handshake: our certificate, or none given
                return f"the broker refused the TLS handshake ({reason})"
            return f"the TLS handshake failed ({reason})"
        except OSError:  # refused, reset, or no answer to read: not a TLS problem
            return None
        return None

    def _unreadable(self) -> list[tuple[str, str]]:
        problems = []
        for option in _FILE_OPTIONS:
            path = getattr(self, option)
            if path is None:
                continue
            try:
                with open(path, "rb"):
                    pass
            except OSError as exc:
                problems.append((f"{self.section}.{option}", f"cannot read {path}: {exc.strerror}"))
        return problems


def _reason(exc: ssl.SSLError) -> str:
    return str(exc.reason or exc.strerror or type(exc).__name__)


def _path(value: object) -> str | None:
    return value if isinstance(value, str) else None


def tls_settings(*, tls: object, ca_file: object, cert_file: object, key_file: object,
                 verify_hostname: object, section: str = "messaging.options") -> TlsSettings | None:
    """Check a driver's TLS options (see the module); None when ``tls`` is false.

    Raises ``ConfigError`` listing every problem with its key path: a non-boolean ``tls`` or
    ``verify_hostname``, a file option that is not a path or is given without ``tls``, a
    ``key_file`` without ``cert_file``, a file that cannot be read or is not what it should be.
    """
    problems: list[tuple[str, str]] = []
    for option, value in (("tls", tls), ("verify_hostname", verify_hostname)):
        if not isinstance(value, bool):
            problems.append((f"{section}.{option}", f"expected true or false, got {value!r}"))
    files = {"ca_file": ca_file, "cert_file": cert_file, "key_file": key_file}
    for option, value in files.items():
        if value is not None and (not isinstance(value, str) or not value):
            problems.append((f"{section}.{option}", f"expected a file path, got {value!r}"))
        elif value is not None and tls is False:
            problems.append((f"{section}.{option}", "given, but tls is false: set tls = true"))
    if verify_hostname is False and tls is False:
        problems.append((f"{section}.verify_hostname", "given, but tls is false: set tls = true"))
    if key_file is not None and cert_file is None:
        problems.append((f"{section}.key_file", "given without cert_file (the client certificate)"))
    if problems:
        raise ConfigError(problems)
    if not tls:
        return None
    settings = TlsSettings(ca_file=_path(ca_file), cert_file=_path(cert_file), key_file=_path(key_file),
                           verify_hostname=bool(verify_hostname), section=section)
    settings.context()  # every file read and checked now
    return settings
