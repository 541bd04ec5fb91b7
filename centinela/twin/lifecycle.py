"""What the twin layer's closeable objects share: `async with` ends in `aclose()`, and backoff."""

from __future__ import annotations

import random
from types import TracebackType
from typing import Self

__all__ = ["AsyncCloseable", "Backoff"]


class AsyncCloseable:
    """`async with obj:` enters with `obj` itself and leaves by awaiting `obj.aclose()`.

    A subclass that must open something first overrides `__aenter__`.
    """

    __slots__ = ()

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class Backoff:
    """Exponential backoff with jitter: `initial`, doubling up to `maximum` seconds."""

    def __init__(self, initial: float = 0.1, maximum: float = 5.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.attempt = 0

    def next_delay(self) -> float:
        delay = min(self.maximum, self.initial * 2.0 ** min(self.attempt, 32))
        self.attempt += 1
        return delay * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not security

    def reset(self) -> None:
        self.attempt = 0
