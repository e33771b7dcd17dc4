"""The server's JWT signing keys, kept in the database so that every replica shares them.

The newest key that is not retired signs; every key still stored verifies,
until its ``grace`` period after retirement is over. :meth:`KeyStore.rotate`
adds a key and retires the others: tokens they signed stay valid until they
expire, so a rotation logs nobody out; with a ``grace`` as long as the longest
token lifetime (what :class:`~dirac_core.auth.manager.AuthManager` gives), a
retired key verifies exactly as long as a token it signed can live. Rotating
also deletes the keys whose grace is over, and :meth:`KeyStore.drop_retired`
deletes retired keys on demand.

The private keys are stored through a :class:`~dirac_core.auth.key_crypto.KeyCipher`:
encrypted when the operator configured a secret, in the clear otherwise.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import datetime, timedelta

from joserfc.jwk import Key, KeySet, RSAKey
from sqlalchemy import delete, insert, select, update

from dirac_core.auth.key_crypto import KeyCipher, is_encrypted
from dirac_core.config.auth import AuthSettings
from dirac_core.db.database import Database
from dirac_core.db.tables.auth import signing_keys
from dirac_core.model.clock import Clock

__all__ = ["ALGORITHM", "KeyStore", "verification_grace"]

#: The signature algorithm (what DiracX uses by default).
ALGORITHM = "RS256"
_RELOAD = timedelta(seconds=60)
log = logging.getLogger(__name__)
#: added to the longest token lifetime: the clock skew tolerated on ``exp`` (30 s), and more
_SKEW = timedelta(minutes=1)


def verification_grace(settings: AuthSettings) -> timedelta:
    """How long a retired key must still verify: the longest lifetime of a token it may have
    signed (the access, refresh and pilot token lifetimes) and a margin for clock skew.

    Tokens issued with a longer lifetime on purpose (``auth issue-token --minutes``) stop
    working this long after a rotation.
    """
    longest = max(settings.access_token_minutes, settings.refresh_token_minutes,
                  settings.pilot_token_minutes)
    return timedelta(minutes=longest) + _SKEW


class KeyStore:
    """Signing keys from the ``auth_signing_keys`` table, cached for a minute per process.

    ``cipher`` encrypts the private keys at rest (default: none, keys in the clear);
    ``grace``: how long a retired key still verifies (default: until it is dropped).
    """

    def __init__(self, database: Database, clock: Clock, *, cipher: KeyCipher | None = None,
                 grace: timedelta | None = None) -> None:
        self._database = database
        self._clock = clock
        self._cipher = cipher or KeyCipher(None)
        self.grace = grace
        self._lock = threading.Lock()
        self._loaded_at: datetime | None = None
        self._keys: list[tuple[RSAKey, datetime | None]] = []  # newest first, with retirement time

    def _load(self) -> None:
        with self._database.begin(read_only=True) as conn:
            rows = conn.execute(select(signing_keys).order_by(signing_keys.c.created.desc(),
                                                              signing_keys.c.kid)).mappings().all()
        self._keys = [(RSAKey.import_key(json.loads(self._cipher.decrypt(row["kid"], row["private_jwk"]))),
                       row["retired"]) for row in rows]
        self._loaded_at = self._clock.now()
        if self._cipher.enabled:
            self._encrypt_clear_rows([(row["kid"], row["private_jwk"]) for row in rows
                                      if not is_encrypted(row["private_jwk"])])

    def _encrypt_clear_rows(self, clear: list[tuple[str, str]]) -> None:
        """Encrypt in place the keys stored before a secret was configured."""
        for kid, text in clear:
            with self._database.begin() as conn:  # only if no other replica did it meanwhile
                conn.execute(update(signing_keys).where(signing_keys.c.kid == kid,
                                                        signing_keys.c.private_jwk == text)
                             .values(private_jwk=self._cipher.encrypt(kid, text)))
        if clear:
            log.info("encrypted %d signing key(s) stored in the clear", len(clear))

    def _verifying(self, keys: list[tuple[RSAKey, datetime | None]]) -> list[RSAKey]:
        if self.grace is None:
            return [key for key, _ in keys]
        cutoff = self._clock.now() - self.grace
        return [key for key, retired in keys if retired is None or retired >= cutoff]

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
        """The keys that verify: the current one, and those retired less than ``grace`` ago
        (reloaded once if ``kid`` is not among the stored ones)."""
        keys = self._current()
        if kid is not None and all(key.kid != kid for key, _ in keys):
            keys = self._current(reload=True)
        return KeySet(list[Key](self._verifying(keys)))

    def public_jwks(self) -> dict[str, object]:
        """The public keys as a JWKS document (``/.well-known/jwks.json``)."""
        self.signing_key()
        return dict(self.key_set().as_dict(private=False))

    def rotate(self) -> str:
        """Add a new signing key, retire the others (they verify for ``grace`` more), drop those
        whose grace is over; return the new key id."""
        now = self._clock.now()
        with self._database.begin() as conn:
            conn.execute(update(signing_keys).where(signing_keys.c.retired.is_(None))
                         .values(retired=now))
        kid = self._add()
        if self.grace is not None:
            self.drop_retired(self.grace)
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
        stored = self._cipher.encrypt(kid, json.dumps(key.as_dict(private=True)))
        with self._database.begin() as conn:
            conn.execute(insert(signing_keys).values(
                kid=kid, algorithm=ALGORITHM, private_jwk=stored, created=self._clock.now(), retired=None))
        if not self._cipher.enabled:
            log.warning("signing key %s is stored unencrypted: set [auth] key_encryption_secret_file "
                        "(or key_encryption_secret) to encrypt the signing keys at rest", kid)
        return kid
