"""The exception tree: every error Centinela raises on purpose derives from `CentinelaError`.

```
CentinelaError
├── ConfigError            bad configuration (file, environment, URL)
├── RulesError             `.rules` files that do not check; carries diagnostics
├── TwinError              a twin operation failed; carries Ditto's status / error code
├── BusError               the message bus (Kafka or in-process) failed
├── HistoryError           the history store failed
├── StateError             the state store failed
└── AdapterError           an edge adapter or its mapping failed
```
"""

from __future__ import annotations

__all__ = [
    "AdapterError",
    "BusError",
    "CentinelaError",
    "ConfigError",
    "HistoryError",
    "RulesError",
    "StateError",
    "TwinError",
]


class CentinelaError(Exception):
    """Root of every error Centinela raises on purpose."""


class ConfigError(CentinelaError):
    """Configuration that cannot be used: the message names the setting and the value."""


class RulesError(CentinelaError):
    """Rule files that did not check; `diagnostics` holds every problem found."""

    def __init__(self, message: str, diagnostics: tuple[object, ...] = ()) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics


class TwinError(CentinelaError):
    """A twin operation failed, described as Ditto describes errors."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        description: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.description = description

    def to_json(self) -> dict[str, object]:
        """Ditto's error body: `status`, `error`, `message` and, when known, `description`."""
        body: dict[str, object] = {"status": self.status, "error": self.error, "message": self.message}
        if self.description:
            body["description"] = self.description
        return body


class BusError(CentinelaError):
    """The message bus could not publish or consume."""


class HistoryError(CentinelaError):
    """The history store could not write or read."""


class StateError(CentinelaError):
    """The state store could not save or load a checkpoint."""


class AdapterError(CentinelaError):
    """An edge adapter, its device connection or its mapping failed."""
