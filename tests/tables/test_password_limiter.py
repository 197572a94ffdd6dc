"""argon2 runs behind its own limiter: never more at once than HASHING_CONCURRENCY."""

from __future__ import annotations

import asyncio
import threading
import time

from tables import passwords


async def test_concurrent_verifications_are_bounded(monkeypatch):
    monkeypatch.setattr(passwords, "HASHING_CONCURRENCY", 2)
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

    monkeypatch.setattr(passwords, "_hasher", SlowHasher())
    results = await asyncio.gather(*(passwords.verify_password("$argon2id$x", "right" if i % 2 else "wrong")
                                     for i in range(10)))
    assert results == [bool(i % 2) for i in range(10)]
    assert peak[0] == 2
    passwords._limiters.clear()


async def test_real_hashes_still_verify():
    hashed = await passwords.hash_password("correct-horse-1")
    assert await passwords.verify_password(hashed, "correct-horse-1")
    assert not await passwords.verify_password(hashed, "wrong-horse-1")
    assert not await passwords.verify_password(None, "correct-horse-1")
