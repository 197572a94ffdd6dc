"""Password hashing for subscribers (argon2id), always off the event loop."""

from __future__ import annotations

import secrets

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

# A valid hash of a random secret: verifying against it costs the same time as
# a real check, so an unknown contract answers as slowly as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))

# Letters and digits that cannot be confused when read from a printout.
_OTP_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"


def hash_password_sync(password: str) -> str:
    return _hasher.hash(password)


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Check ``password``; with no hash, burn the same time and return False."""

    def _verify() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(_verify)


def needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def generate_one_time_password(length: int = 10) -> str:
    """A one-time password printed for the subscriber at contract signing."""
    return "".join(secrets.choice(_OTP_ALPHABET) for _ in range(length))
