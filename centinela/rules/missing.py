"""The MISSING sentinel as the engine sees it (the one the compiled rules propagate)."""

from __future__ import annotations

from typing import Final

__all__ = ["MISSING"]


class _Missing:
    """A path the thing lacks or an undefined result; distinct from every value, even falsy ones."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()
