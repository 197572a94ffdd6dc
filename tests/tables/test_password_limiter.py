"""argon2 runs behind its own limiter: never more at once than CENTRA_HASHING_THREADS; the
suite's minimal-cost hasher is still argon2id, and production's hashes are at full cost."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from tables import passwords


async def test_concurrent_verifications_are_bounded(monkeypatch, setenv):
    setenv("CENTRA_HASHING_THREADS", "2")
    passwords._limiters.clear()
    lock, running, peak = threading.Lock(), [0], [0]

    def slow_verify(password_hash: str, password: str) -> bool:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1
        return password == "right"

    class SlowHasher:
        verify = staticmethod(slow_verify)

    monkeypatch.setattr(passwords, "_hasher", SlowHasher)
    results = await asyncio.gather(*(passwords.verify_password("$argon2id$x", "right" if i % 2 else "wrong")
                                     for i in range(10)))
    assert results == [bool(i % 2) for i in range(10)]
    assert peak[0] == 2
    passwords._limiters.clear()


@pytest.mark.parametrize("hashing", ["standard", "test-minimal"])
async def test_real_hashes_still_verify(setenv, hashing):
    setenv("CENTRA_PASSWORD_HASHING", hashing)
    hashed = await passwords.hash_password("correct-horse-1")
    assert hashed.startswith("$argon2id$")
    assert await passwords.verify_password(hashed, "correct-horse-1")
    assert not await passwords.verify_password(hashed, "wrong-horse-1")
    assert not await passwords.verify_password(None, "correct-horse-1")
    assert not passwords.needs_rehash(hashed)


async def test_production_hashes_at_full_cost_and_upgrades_the_suites_hashes(setenv):
    """The suite hashes at argon2's minimal cost; "standard" (the default, and the only value
    production accepts) is argon2-cffi's full cost, and a cheap hash is redone at login."""
    cheap = await passwords.hash_password("correct-horse-1")
    assert "$m=8,t=1,p=1$" in cheap
    setenv("CENTRA_PASSWORD_HASHING", "standard")
    full = await passwords.hash_password("correct-horse-1")
    assert "$m=65536,t=3,p=4$" in full
    assert await passwords.verify_password(cheap, "correct-horse-1")
    assert passwords.needs_rehash(cheap) and not passwords.needs_rehash(full)
    start = time.perf_counter()
    assert not await passwords.verify_password(None, "correct-horse-1")
    assert not await passwords.verify_password(full, "wrong-horse-1")
    assert time.perf_counter() - start > 0.05  # full-cost checks, even for an unknown contract


async def test_staff_passwords_follow_the_same_setting(setenv):
    """Staff passwords are Piccolo's PBKDF2: one round in the suite, Piccolo's own count (and a
    rehash at login of a password stored with fewer) under "standard"."""
    from piccolo.apps.user.tables import BaseUser

    from tests.support.helpers import STAFF_PASSWORD, make_staff

    user = await make_staff("hasher")
    assert user.password.startswith("pbkdf2_sha256$1$")
    setenv("CENTRA_PASSWORD_HASHING", "standard")
    assert await BaseUser.login("hasher", STAFF_PASSWORD) == user.id
    stored = await BaseUser.select(BaseUser.password).where(BaseUser.id == user.id).first()
    assert stored["password"].startswith("pbkdf2_sha256$600000$")
