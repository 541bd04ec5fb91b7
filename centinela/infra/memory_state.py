"""In-memory state store: checkpoints kept in a dict, for embedded mode without persistence and tests."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["MemoryStateStore"]


class MemoryStateStore:
    """A `StateStore` in a dict; `save` applies all of its items or none."""

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}

    async def load(self, key: str) -> bytes | None:
        return self._data.get(key)

    async def load_prefix(self, prefix: str) -> dict[str, bytes]:
        return {k: v for k, v in self._data.items() if k.startswith(prefix)}

    async def save(self, items: Mapping[str, bytes | None]) -> None:
        for key, value in items.items():
            if value is None:
                self._data.pop(key, None)
            else:
                self._data[key] = bytes(value)

    async def aclose(self) -> None:
        return None
