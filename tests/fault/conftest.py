"""Fixtures of the fault tests: a private set of servers per test."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fault_servers import PrivateServices


@pytest.fixture
async def private() -> AsyncIterator[PrivateServices]:
    # Under /tmp with o+x so that PostgreSQL, run as the postgres user, can reach its data folder.
    folder = Path(tempfile.mkdtemp(prefix="centinela-fault-", dir="/tmp"))
    folder.chmod(0o755)
    services = PrivateServices(folder)
    try:
        yield services
    finally:
        await services.stop_all()
        shutil.rmtree(folder, ignore_errors=True)
