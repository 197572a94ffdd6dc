"""Fixtures for the parts outside the web process that several test areas drive: the job engine
(procrastinate, in memory on SQLite, on the test database on PostgreSQL) and the local SMS
gateway (a real HTTP server speaking the SMS.ru-style API)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import procrastinate
import pytest

from jobs.engine import app, in_memory
from providers.sms_sandbox import SmsSandbox


@pytest.fixture
async def engine() -> AsyncIterator[procrastinate.App]:
    """The job engine, open for the test (its in-memory queue emptied first)."""
    if in_memory():
        app.connector.reset()
    async with app.open_async():
        yield app


@pytest.fixture
def gateway() -> Iterator[SmsSandbox]:
    """The local SMS gateway, started for the test."""
    server = SmsSandbox().start()
    yield server
    server.stop()
