"""The demo well pad as a pure, seeded process model: 3 producing wells and 1 drilling rig.

`WellPad.sample(elapsed)` returns the value of every point `elapsed` seconds after the start. It
depends only on the seed and `elapsed`, so simulators, tests and the demo see the same process.
Scripted excursions (seconds after start, repeating every `cycle` seconds when one is given):

- well-01 `pressure.tubing` ramps above 3000 psi from t=12 s, holds ~3150 psi until t=55 s;
- well-02 `pressure.tubing` stops updating from t=25 s to t=85 s (left out of the sample);
- rig-01 gains 15 bbl/min of pit volume and returns 20 % more than it pumps from t=20 s to t=140 s.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["POINTS", "RIG", "THINGS", "WELLS", "PointSpec", "WellPad"]

WELLS = ("org.acme.wells:well-01", "org.acme.wells:well-02", "org.acme.wells:well-03")
RIG = "org.acme.rigs:rig-01"
THINGS = (*WELLS, RIG)

WELL_DEFINITION = "org.acme:producer-well:1.0.0"
RIG_DEFINITION = "org.acme:drilling-rig:1.0.0"


@dataclass(frozen=True, slots=True)
class PointSpec:
    """One simulated measurement: where it lands in the twin, its unit, level and noise."""

    thing: str
    feature: str
    property: str
    unit: str
    base: float
    noise: float

    def key(self) -> str:
        return f"{self.thing}/{self.feature}/{self.property}"


_WELL = (
    ("pressure", "tubing", "psi", 2450.0, 8.0),
    ("pressure", "casing", "psi", 1200.0, 5.0),
    ("temperature", "wellhead", "degF", 165.0, 0.5),
    ("flow", "oilRate", "bbl/d", 820.0, 10.0),
    ("flow", "waterRate", "bbl/d", 410.0, 8.0),
    ("flow", "gasRate", "Mscf/d", 650.0, 10.0),
    ("esp", "current", "A", 42.0, 0.4),
    ("esp", "frequency", "Hz", 58.0, 0.05),
    ("esp", "intakePressure", "psi", 850.0, 5.0),
    ("esp", "motorTemperature", "degF", 250.0, 1.0),
)
_WELL_LEVEL = (1.0, 0.94, 1.06)
_RIG = (
    ("drilling", "wob", "klbf", 25.0, 0.5),
    ("drilling", "rpm", "rpm", 120.0, 1.0),
    ("drilling", "torque", "ft·lbf", 12000.0, 150.0),
    ("drilling", "rop", "ft/h", 60.0, 2.0),
    ("drilling", "depth", "ft", 8500.0, 0.0),
    ("drilling", "mudWeight", "ppg", 10.2, 0.01),
    ("pit", "volume", "bbl", 480.0, 0.2),
    ("flow", "in", "gpm", 600.0, 3.0),
    ("flow", "out", "gpm", 600.0, 3.0),
    ("flow", "returnRatio", "1", 1.0, 0.0),
)


def _points() -> tuple[PointSpec, ...]:
    out = [
        PointSpec(well, f, p, unit, round(base * level, 3), noise)
        for well, level in zip(WELLS, _WELL_LEVEL, strict=True)
        for f, p, unit, base, noise in _WELL
    ]
    out += [PointSpec(RIG, f, p, unit, base, noise) for f, p, unit, base, noise in _RIG]
    return tuple(out)


POINTS = _points()
"""Every simulated point, wells first, in a fixed order (simulators lay out registers by it)."""

_KICK_START, _KICK_END = 20.0, 140.0
_GAIN_PER_S = 0.25  # 15 bbl/min: a kick the 1-minute gain rate shows within the first minute


def _ramp(t: float, t0: float, t1: float) -> float:
    """0 before t0, 1 after t1, linear between."""
    return min(1.0, max(0.0, (t - t0) / (t1 - t0)))


class WellPad:
    """The process model. Pure: `sample(t)` depends only on the seed and `t`."""

    def __init__(self, seed: int = 0, *, cycle: float | None = None, resolution: float = 0.1) -> None:
        self.seed = seed
        self.cycle = cycle
        self.resolution = resolution

    def _noise(self, index: int, t: float, sigma: float) -> float:
        if sigma == 0:
            return 0.0
        tick = int(t / self.resolution)
        rng = random.Random((self.seed * 1_000_003 + index) * 1_000_003 + tick)  # noqa: S311 - simulation
        return rng.gauss(0.0, sigma)

    def sample(self, elapsed: float) -> dict[str, float]:
        """Values by `PointSpec.key()` at `elapsed` seconds; a point that is not updating is absent."""
        t = elapsed % self.cycle if self.cycle else elapsed
        out: dict[str, float] = {}
        for i, spec in enumerate(POINTS):
            value = spec.base + self._noise(i, elapsed, spec.noise)
            match (spec.thing, spec.feature, spec.property):
                case ("org.acme.wells:well-01", "pressure", "tubing"):
                    value += 700.0 * (_ramp(t, 12.0, 15.0) - _ramp(t, 55.0, 58.0))
                case ("org.acme.wells:well-02", "pressure", "tubing") if 25.0 <= t < 85.0:
                    continue
                case (_, "drilling", "depth"):
                    value += 60.0 / 3600.0 * elapsed
                case (_, "pit", "volume"):
                    value += _GAIN_PER_S * (min(t, _KICK_END) - _KICK_START) if t >= _KICK_START else 0.0
                case (_, "flow", "out") if spec.thing == RIG and _KICK_START <= t < _KICK_END:
                    value *= 1.2
            out[spec.key()] = value
        if f"{RIG}/flow/in" in out:
            out[f"{RIG}/flow/returnRatio"] = out[f"{RIG}/flow/out"] / out[f"{RIG}/flow/in"]
        return out

    @staticmethod
    def things() -> dict[str, dict[str, object]]:
        """The demo things (definition and attributes) as the twin store should be seeded with them."""
        wells: dict[str, dict[str, object]] = {
            w: {
                "definition": WELL_DEFINITION,
                "attributes": {
                    "status": "producing",
                    "limits": {"tubingPressure": 3000},
                    "reservoirPressure": 3500,
                    "qmax": 2500,
                },
            }
            for w in WELLS
        }
        rig: dict[str, object] = {
            "definition": RIG_DEFINITION,
            "attributes": {"active": True, "bitDiameter": 8.5},
        }
        return {**wells, RIG: rig}
