"""Where a client's bearer token comes from: a fixed token, or DiracX's credentials file.

The credentials file (``DIRACX_CREDENTIALS_PATH``, written by ``dirac login``
and ``dirac-core auth issue-token --credentials-file``) holds
``{"access_token", "refresh_token", "expires_on"}`` (``expires_on``: epoch
seconds). An expired access token is exchanged for a new pair and the file
rewritten (mode 0600, replaced atomically). Refresh tokens rotate: a spent
one revokes its whole login when used again, so the file is read again just
before refreshing, in case another process refreshed it meanwhile.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dirac_core.errors import NotAuthenticated

__all__ = ["Credentials"]

#: Seconds taken off ``expires_in`` when writing ``expires_on`` (DiracX's CLI does the same).
EXPIRY_MARGIN = 15


class Credentials:
    """A bearer token, refreshable when it comes from a credentials file; thread-safe.

    Neither ``token`` nor ``path``: requests go without ``Authorization``.
    ``now`` returns the time in epoch seconds (tests pass a fake one).
    """

    def __init__(self, *, token: str | None = None, path: str | os.PathLike[str] | None = None,
                 now: Callable[[], float] = time.time) -> None:
        if token is not None and path is not None:
            raise ValueError("give a token or a credentials file, not both")
        self.path = Path(path) if path is not None else None
        self._now = now
        self.lock = threading.RLock()
        self.access_token = token
        self.refresh_token: str | None = None
        self.expires_on: float | None = None
        if self.path is not None:
            self.reload()

    def reload(self) -> None:
        """Read the credentials file again; raises ``NotAuthenticated`` if it is missing or malformed."""
        assert self.path is not None
        try:
            data = json.loads(self.path.read_text())
            access = data["access_token"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise NotAuthenticated(f"cannot read the credentials file {self.path}: {exc}",
                                   path=str(self.path)) from None
        expires = data.get("expires_on")
        with self.lock:
            self.access_token = str(access)
            self.refresh_token = data.get("refresh_token") or None
            self.expires_on = float(expires) if isinstance(expires, int | float) else None

    @property
    def refreshable(self) -> bool:
        """True when a refresh token is at hand (a credentials file that has one)."""
        return self.path is not None and self.refresh_token is not None

    def expired(self) -> bool:
        """True when the access token's ``expires_on`` is past (unknown: not expired)."""
        return self.expires_on is not None and self._now() >= self.expires_on

    def headers(self) -> dict[str, str]:
        """The ``Authorization`` header, or nothing."""
        token = self.access_token
        return {"Authorization": f"Bearer {token}"} if token else {}

    def store(self, answer: Mapping[str, Any]) -> None:
        """Keep the token endpoint's ``answer`` and write it to the credentials file (mode 0600)."""
        assert self.path is not None
        try:
            access, refresh = str(answer["access_token"]), str(answer["refresh_token"])
            expires_on = int(self._now()) + int(answer["expires_in"]) - EXPIRY_MARGIN
        except (KeyError, TypeError, ValueError):
            raise NotAuthenticated("the token endpoint's answer has no token pair") from None
        data = {"access_token": access, "refresh_token": refresh, "expires_on": expires_on}
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:  # mkstemp creates the file with mode 0600
            with os.fdopen(fd, "w") as out:
                json.dump(data, out)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        with self.lock:
            self.access_token, self.refresh_token = access, refresh
            self.expires_on = float(expires_on)
