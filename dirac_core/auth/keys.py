"""The server's JWT signing keys, kept in the database so that every replica shares them.

The newest key that is not retired signs; every key still stored verifies.
:meth:`KeyStore.rotate` adds a key and retires the others (tokens they signed
stay valid until they expire); :meth:`KeyStore.drop_retired` deletes keys
retired long enough ago that no token they signed can still be valid.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timedelta

from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import delete, insert, select, update

from dirac_core.db.database import Database
from dirac_core.db.tables.auth import signing_keys
from dirac_core.model.clock import Clock

__all__ = ["ALGORITHM", "KeyStore"]

#: The signature algorithm (what DiracX uses by default).
ALGORITHM = "RS256"
_RELOAD = timedelta(seconds=60)


class KeyStore:
    """Signing keys from the ``auth_signing_keys`` table, cached for a minute per process."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self._database = database
        self._clock = clock
        self._lock = threading.Lock()
        self._loaded_at: datetime | None = None
        self._keys: list[tuple[RSAKey, datetime | None]] = []  # newest first, with retirement time

    def _load(self) -> None:
        with self._database.begin(read_only=True) as conn:
            rows = conn.execute(select(signing_keys).order_by(signing_keys.c.created.desc(),
                                                              signing_keys.c.kid)).mappings().all()
        self._keys = [(RSAKey.import_key(json.loads(row["private_jwk"])), row["retired"])
                      for row in rows]
        self._loaded_at = self._clock.now()

    def _current(self, *, reload: bool = False) -> list[tuple[RSAKey, datetime | None]]:
        with self._lock:
            stale = self._loaded_at is None or self._clock.now() - self._loaded_at > _RELOAD
            if reload or stale:
                self._load()
            return self._keys

    def signing_key(self) -> RSAKey:
        """The key that signs new tokens; the first call on an empty database creates it."""
        for key, retired in self._current():
            if retired is None:
                return key
        self._add()
        return next(key for key, retired in self._current(reload=True) if retired is None)

    def key_set(self, kid: str | None = None) -> KeySet:
        """Every stored key, for verification (reloaded once if ``kid`` is not among them)."""
        keys = self._current()
        if kid is not None and all(key.kid != kid for key, _ in keys):
            keys = self._current(reload=True)
        return KeySet([key for key, _ in keys])

    def public_jwks(self) -> dict[str, object]:
        """The public keys as a JWKS document (``/.well-known/jwks.json``)."""
        self.signing_key()
        return dict(self.key_set().as_dict(private=False))

    def rotate(self) -> str:
        """Add a new signing key, retire the others; return the new key id."""
        now = self._clock.now()
        with self._database.begin() as conn:
            conn.execute(update(signing_keys).where(signing_keys.c.retired.is_(None))
                         .values(retired=now))
        kid = self._add()
        self._current(reload=True)
        return kid

    def drop_retired(self, older_than: timedelta) -> int:
        """Delete keys retired more than ``older_than`` ago; return how many."""
        cutoff = self._clock.now() - older_than
        with self._database.begin() as conn:
            count = conn.execute(delete(signing_keys).where(signing_keys.c.retired < cutoff)).rowcount
        self._current(reload=True)
        return int(count)

    def _add(self) -> str:
        kid = uuid.uuid4().hex
        key = RSAKey.generate_key(2048, parameters={"kid": kid, "alg": ALGORITHM, "use": "sig"})
        with self._database.begin() as conn:
            conn.execute(insert(signing_keys).values(
                kid=kid, algorithm=ALGORITHM, private_jwk=json.dumps(key.as_dict(private=True)),
                created=self._clock.now(), retired=None))
        return kid
