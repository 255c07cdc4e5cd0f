"""Users, their TOTP factors and their sessions, in memory to keep the example about
mfa-amr: a real service keeps them in its user database (Supabase Auth's
``auth.users``, ``auth.mfa_factors``, ``auth.sessions``)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass, field

from pyotp.totp import TOTP


@dataclass
class Factor:
    """A TOTP factor: verified once the user has entered a code from it."""

    secret: str
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    verified: bool = False
    last_step: int = -1  # the last time step accepted: a code is good once

    def accept(self, code: str) -> bool:
        """Whether ``code`` is this factor's code for now (or the step before or
        after, for clock drift) and newer than the last one accepted."""
        totp = TOTP(self.secret)
        now = totp.timecode(time.time())
        for step in (now - 1, now, now + 1):
            expected = totp.generate_otp(step).encode()
            if step > self.last_step and hmac.compare_digest(code.encode(), expected):
                self.last_step = step
                return True
        return False


@dataclass
class User:
    email: str
    password_hash: bytes
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    factors: dict[uuid.UUID, Factor] = field(default_factory=dict[uuid.UUID, Factor])
    sessions: set[uuid.UUID] = field(default_factory=set[uuid.UUID])

    def verified_factors(self) -> list[Factor]:
        return [f for f in self.factors.values() if f.verified]


class Accounts:
    """The users, by id and by email. Changes run without awaiting, so each is
    atomic to the event loop's tasks; the password methods are slow on purpose
    (``scrypt_n``: OWASP's minimum is 2**17), for a worker thread."""

    def __init__(self, scrypt_n: int = 2**17) -> None:
        # scrypt takes 128 * r * n bytes: allow twice that.
        self._scrypt = {"n": scrypt_n, "r": 8, "p": 1, "maxmem": 2 * 1024 * scrypt_n}
        self._by_id: dict[uuid.UUID, User] = {}
        self._by_email: dict[str, User] = {}
        self._nobody = self.hash_password(secrets.token_hex(16))

    def hash_password(self, password: str, salt: bytes | None = None) -> bytes:
        """``salt + scrypt(password)``: what the user record keeps."""
        salt = secrets.token_bytes(16) if salt is None else salt
        return salt + hashlib.scrypt(password.encode(), salt=salt, **self._scrypt)

    def check_password(self, user: User | None, password: str) -> bool:
        """Whether ``password`` is the user's; as slow for an unknown user as for a
        known one, so the answer's timing does not tell which emails exist."""
        stored = self._nobody if user is None else user.password_hash
        given = self.hash_password(password, stored[:16])
        return hmac.compare_digest(given, stored) and user is not None

    def add(self, email: str, password_hash: bytes) -> User | None:
        """A new user, or ``None`` if the email is taken."""
        key = email.casefold()
        if key in self._by_email:
            return None
        user = User(email, password_hash)
        self._by_id[user.id] = self._by_email[key] = user
        return user

    def change_email(self, user: User, email: str) -> bool:
        """Give the user a new email; ``False`` if another user has it."""
        key = email.casefold()
        if self._by_email.get(key, user) is not user:
            return False
        del self._by_email[user.email.casefold()]
        user.email, self._by_email[key] = email, user
        return True

    def by_email(self, email: str) -> User | None:
        return self._by_email.get(email.casefold())

    def by_id(self, user_id: uuid.UUID) -> User | None:
        return self._by_id.get(user_id)
