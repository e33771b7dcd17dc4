"""A real S3 endpoint on a loopback port, for tests of S3 storage drivers.

:func:`s3_server` runs moto's standalone server (``python -m moto.server``,
from the PyPI package ``moto[server]``) in this interpreter's environment on
a free port of 127.0.0.1, waits until it answers HTTP, creates a bucket and
stops the server when the block ends. moto speaks the S3 REST API over
HTTP, so clients talk to it exactly as to any S3 service through an
``endpoint_url``; it accepts any access key, and the
:class:`S3Server` names the dummy credentials to use.

It installs nothing: when moto (or boto3, used to create the bucket) is
missing or the server does not start, it raises
:class:`~dirac_core.testing._daemons.ComponentUnavailable`.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from attrs import frozen

from dirac_core.testing._daemons import ComponentUnavailable, Daemon, free_port, wait_until

__all__ = ["ComponentUnavailable", "S3Server", "moto_missing", "s3_server"]

_START_ATTEMPTS = 3
#: moto accepts any credentials; these name the dummy ones a client signs with.
_DUMMY_KEY = "testing"


@frozen(kw_only=True)
class S3Server:
    """Where the test S3 endpoint listens, its bucket, and the credentials it accepts."""

    endpoint_url: str
    bucket: str
    region: str
    access_key: str
    secret_key: str
    log_path: Path

    def environment(self) -> dict[str, str]:
        """The variables through which boto3 finds this server's credentials and region."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_DEFAULT_REGION": self.region}

    def client(self) -> Any:
        """A boto3 S3 client of this server with explicit credentials (to prepare or tamper with data)."""
        boto3 = importlib.import_module("boto3")
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, region_name=self.region,
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key)


def moto_missing() -> str | None:
    """Why :func:`s3_server` cannot run here (a missing package), or None."""
    for module, package in (("moto.server", "moto[server]"), ("flask", "moto[server]"), ("boto3", "boto3")):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            return f"the Python package {package} is not installed ({module} is missing)"
    return None


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our loopback http URL
            return int(response.status) < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


@contextmanager
def s3_server(tmp_dir: Path, *, bucket: str = "dirac-test", region: str = "us-east-1",
              start_timeout: float = 60) -> Iterator[S3Server]:
    """Run moto's S3 server on 127.0.0.1 with one empty ``bucket`` until the block ends.

    Its log goes to ``tmp_dir/moto/moto.log``. Raises
    :class:`ComponentUnavailable` when moto or boto3 is missing, or the
    server does not answer within ``start_timeout`` seconds or refuses to
    create the bucket; the server is stopped on exit, whatever happened.
    """
    missing = moto_missing()
    if missing:
        raise ComponentUnavailable(missing)
    folder = Path(tmp_dir) / "moto"
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / "moto.log"
    failure = "not started"
    for _attempt in range(_START_ATTEMPTS):
        # a free port may be taken between our probe and moto's bind: try another one
        port = free_port()
        endpoint = f"http://127.0.0.1:{port}"
        argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        daemon = Daemon("moto_server", argv, log_path=log_path)
        try:
            wait_until(functools.partial(_answers, f"{endpoint}/"), timeout=start_timeout,
                       what=f"moto S3 server on port {port}", alive=daemon.dead, interval=0.2)
        except ComponentUnavailable as exc:
            daemon.stop()
            failure = str(exc)
            continue
        try:
            server = S3Server(endpoint_url=endpoint, bucket=bucket, region=region, access_key=_DUMMY_KEY,
                              secret_key=_DUMMY_KEY, log_path=log_path)
            try:
                server.client().create_bucket(Bucket=bucket)
            except Exception as exc:
                raise ComponentUnavailable(f"moto would not create bucket {bucket!r}: {exc}") from exc
            yield server
        finally:
            daemon.stop()
        return
    raise ComponentUnavailable(f"moto S3 server would not start: {failure}")
