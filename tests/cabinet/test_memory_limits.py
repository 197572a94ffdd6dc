"""The in-process rate-limit store (no Redis): bounded memory without per-request scans."""

from __future__ import annotations

from cabinet.limits import _MemoryCounters


async def test_a_flood_of_addresses_keeps_memory_bounded_and_pruning_rare():
    counters = _MemoryCounters()
    counters.max_keys = 100
    for i in range(1_000):
        assert await counters.incr(f"quickpay-ip:10.0.{i // 256}.{i % 256}", 600) == 1
    assert len(counters._data) <= counters.max_keys
    # Pruned down to 3/4 each time: once per 25 new addresses, not on every request.
    assert counters.prunes <= 1_000 // 25 + 1


async def test_recent_counts_survive_pruning():
    counters = _MemoryCounters()
    counters.max_keys = 100
    for i in range(130):
        await counters.incr(f"login-ip:198.51.100.{i}", 900)
    # Under a flood the oldest counters go first; the latest clients keep their counts.
    assert await counters.incr("login-ip:198.51.100.129", 900) == 2
    assert await counters.incr("login-ip:198.51.100.100", 900) == 2
    assert len(counters._data) <= counters.max_keys
