"""Password hashing for subscribers (argon2id), always off the event loop."""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import secrets
import weakref

import anyio.to_thread
from argon2 import DEFAULT_RANDOM_SALT_LENGTH, PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from settings import get_settings

#: ``CENTRA_PASSWORD_HASHING`` → the hasher. "standard" is argon2-cffi's default argon2id
#: (t=3, m=64 MiB, p=4: ~0.1 s a hash). "test-minimal" is argon2id at the least cost the
#: algorithm allows (t=1, m=8 KiB, p=1: microseconds), so the suite's time goes to behaviour;
#: its hashes verify with either hasher (the parameters are in the hash), and a login under
#: "standard" rehashes them (``needs_rehash``). Production refuses it (settings.py).
HASHERS = {
    "standard": PasswordHasher(),
    "test-minimal": PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, hash_len=16,
                                   salt_len=DEFAULT_RANDOM_SALT_LENGTH),
}


def _hasher() -> PasswordHasher:
    return HASHERS[get_settings().password_hashing]


# One argon2 run keeps ``parallelism`` (4) threads busy on 64 MiB for ~0.1 s. More runs at
# once than cores only queue for the same cores, multiply the memory and starve the event
# loop's thread, so hashing gets its own limiter, one run per core, instead of anyio's
# 40-thread default (bench/login_load.py, docs/performance.md). One run in total would keep
# the loop freest but leaves cores idle while argon2's lanes wait for each other.
# ``CENTRA_HASHING_THREADS`` overrides it.
def hashing_concurrency() -> int:
    return get_settings().hashing_threads or os.cpu_count() or 1


_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


def _limiter() -> anyio.CapacityLimiter:
    """A limiter per event loop (anyio binds one to the loop that first uses it)."""
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = anyio.CapacityLimiter(hashing_concurrency())
    return limiter


@functools.cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """A valid hash of a random secret: verifying against it costs the same time as a real
    check, so an unknown contract answers as slowly as a wrong password."""
    return hasher.hash(secrets.token_hex(16))

# Letters and digits that cannot be confused when read from a printout.
_OTP_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"


def hash_password_sync(password: str) -> str:
    return _hasher().hash(password)


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher().hash, password, limiter=_limiter())


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Check ``password``; with no hash, burn the same time and return False."""
    hasher = _hasher()

    def _verify() -> bool:
        try:
            return hasher.verify(password_hash or _dummy_hash(hasher), password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(_verify, limiter=_limiter())


def needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def generate_one_time_password(length: int = 10) -> str:
    """A one-time password printed for the subscriber at contract signing."""
    return "".join(secrets.choice(_OTP_ALPHABET) for _ in range(length))


MIN_LENGTH = 8
MAX_LENGTH = 128
LEGACY_MAX_DIGITS = 12

# The most common choices; a full list would come from a breach corpus.
COMMON_PASSWORDS = {
    "password", "password1", "passw0rd", "qwerty12", "qwertyui", "qwerty123", "12345678",
    "123456789", "1234567890", "11111111", "00000000", "iloveyou", "admin123", "letmein1",
    "йцукенгш", "пароль123", "centra123", "internet", "1q2w3e4r", "zaq12wsx", "asdfghjk",
}

PASSWORD_RULES = (
    f"Не короче {MIN_LENGTH} символов; не последовательность вроде 12345678 или aaaaaaaa; "
    "не номер договора."
)


def _is_sequence(text: str) -> bool:
    lowered = text.lower()
    if len(set(lowered)) <= 2:
        return True
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(lowered)}
    return steps <= {1} or steps <= {-1} or lowered in "qwertyuiopasdfghjklzxcvbnm"


def password_problem(password: str, *, contract_number: str = "") -> str | None:
    """Why ``password`` is not acceptable as a new password (Russian), or None."""
    if len(password) < MIN_LENGTH:
        return f"Пароль слишком короткий: нужно не меньше {MIN_LENGTH} символов."
    if len(password) > MAX_LENGTH:
        return f"Пароль слишком длинный: не больше {MAX_LENGTH} символов."
    if password.strip() != password:
        return "Пароль не должен начинаться или заканчиваться пробелом."
    if _is_sequence(password) or password.lower() in COMMON_PASSWORDS:
        return "Пароль слишком простой: не используйте последовательности и распространённые пароли."
    if is_legacy_password(password):
        return "Пароль только из цифр — старого образца. Добавьте буквы или другие символы."
    if contract_number and contract_number in password:
        return "Пароль не должен содержать номер договора."
    return None


def is_legacy_password(password: str) -> bool:
    """The old system's rule: up to 12 digits. Accepted at login, then a change is forced."""
    return password.isdigit() and len(password) <= LEGACY_MAX_DIGITS
