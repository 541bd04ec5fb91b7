"""What an engine run produced, as one comparable value (for tests comparing two engines)."""

from __future__ import annotations

from typing import Any

from centinela.rules.engine import Engine
from centinela.rules.output import StepOutput


def engine_outcome(engine: Engine, out: StepOutput) -> dict[str, Any]:
    """Transitions, computed changes, history rows, health, every context's state and the counters."""
    return {
        "alarms": [a.to_json() for a in out.alarms],
        "changes": out.changes,
        "rows": out.rows,
        "health": out.health,
        "contexts": {k: [c.to_json() for c in v] for k, v in engine.contexts.items()},
        "counts": (engine.out_of_order, engine.late, sorted(engine.touched)),
    }
