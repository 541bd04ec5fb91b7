"""Shared test helpers: services are required under CI=true and skipped (with the reason) elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DITTO = ROOT.parent / "shared" / "ditto"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def service_unavailable(name: str, reason: str, *, remedy: str = "Start it with `make services`.") -> None:
    """Fail under CI (a missing service is a failure there), skip with the reason elsewhere."""
    text = f"{name} is not available: {reason}. {remedy}"
    if IN_CI:
        pytest.fail(text)
    pytest.skip(text)


@pytest.fixture(scope="session")
def shared_ditto() -> Path:
    """Eclipse Ditto's published contract, read from `../shared/ditto` (never copied into the repo)."""
    if not SHARED_DITTO.is_dir():
        service_unavailable(
            "../shared/ditto",
            f"{SHARED_DITTO} does not exist",
            remedy="Ditto's published contract must sit beside the repository, in ../shared/ditto.",
        )
    return SHARED_DITTO
