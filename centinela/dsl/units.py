"""Units of measure for `.rules` files: one pint registry with oilfield units, checked at compile time.

Only this module touches pint. Everything else sees `Unit` values (the text the author wrote,
normalised) and plain floats: `conversion` returns the `(scale, offset)` pair the compiler folds
into generated code, so nothing unit-related runs per reading.

Policies (also in docs/domain-functions.md):

- `bbl` is the oil barrel, 42 US gallons = 0.158987294928 m³ (pint's own `bbl` is 31.5 gallons;
  Centinela redefines it). `stb` is the same barrel (stock-tank volume is a convention, not a unit).
- `scf` is one cubic foot at standard conditions; `Mscf`/`Mcf` = 10³ scf and `MMscf`/`MMcf` = 10⁶ scf
  (oilfield M = thousand: these are whole unit names, never pint's mega prefix). Standard conditions
  are not modelled, so `scf/bbl` is a volume ratio (dimensionless): `Mscf/d ÷ bbl/d → 1000 scf/bbl`.
- `psi` is the one pressure unit of the oilfield; gauge and absolute references are *not* tracked.
  `psia` and `psig` are rejected with a hint to write `psi` and to say gauge or absolute in the
  property name (a silent 14.7 psi offset between two spellings of one unit causes worse bugs than
  an honest error).
- `%` is dimensionless × 0.01: a dimensionless ratio stored into a `%` output is multiplied by 100
  (`waterCut : % = water / liquid`), and `50 %` equals `0.5`.
- `rpm` is one revolution per minute and revolutions, cycles and strokes are counts: 1 rpm = 1/60 Hz
  (so 60 Hz ≙ 3600 rpm) and `rev/min` = `rpm`. Angular speeds in `rad/s` are therefore not revolution
  rates (pint's own `rpm` is 2π/60 rad/s, which would make 1 rpm = 0.105 Hz); write `rpm` or `Hz`.
- Oilfield thousands: `Mbbl`/`Mstb` = 10³ bbl, `MMbbl` = 10⁶ bbl, `Bcf` = 10⁹ scf, `Tcf` = 10¹² scf
  (pint would read `Mbbl` as a mega-barrel). Rate aliases: `bpd`, `bopd`, `bwpd`, `blpd`, `bfpd` = bbl/d;
  `Mscfd`/`Mcfd` = Mscf/d; `MMscfd`/`MMcfd` = MMscf/d. `ppf` = lb/ft, `lbm` = lb, `stk` = one stroke.
- `m3`, `ft3`, `m2`, … are read as `m^3`, `ft^3`, `m^2`; `Sm3` (standard cubic metre) is `m^3`.
- SPE field spellings: `D` is the day (`STB/D`), `md`/`mD` the millidarcy, `cp` the centipoise (pint
  would read debye, milliday and cup). `100ft` and `30m` are course lengths (`deg/100ft`, `psi/100ft`).
  `API` is rejected: API gravity is not proportional to density (use `api_to_sg`).
- `sg` is specific gravity relative to water at 60 °F, a *density*: 1 sg = 999.016 kg/m³ ≈ 8.337 ppg,
  so mud weights convert between `sg`, `ppg` and `kg/m^3`. Gas gravity (relative to air) is written
  without a unit. `ppg` is lb/US gal (1 ppg = 119.826 kg/m³).
- `bpm` is barrels per minute (pump rate), `gpm` US gallons per minute, `spm` strokes per minute.
- Temperatures `degF`, `degC`, `K`, `degR` convert with an offset. Inside a product, quotient or
  power a temperature means a temperature *difference* (`degF/ft` is a gradient, `delta_degF`).
- `ft·lbf` and `ft*lbf` are the same unit (torque); `·` and `⋅` are read as `*`; `°F`, `°C` as `degF`, `degC`.
- In units `m` is the metre and `min` the minute (durations such as `5m` belong to the language).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pint

__all__ = [
    "DIMENSIONLESS",
    "KNOWN_UNITS",
    "SECOND",
    "Unit",
    "UnitError",
    "compatible",
    "conversion",
    "delta",
    "describe",
    "divide",
    "is_offset",
    "multiply",
    "parse_unit",
    "per_second",
    "power",
    "times_second",
]


class UnitError(ValueError):
    """A unit that cannot be parsed or converted; the message is a sentence naming the unit text."""


# Definitions loaded once into the module registry. Redefinitions of pint's `bbl`, `rpm`, `revolution`,
# `cycle`, `D` (debye), `cp` (cup) and `md` (milliday) are on purpose (see the module docstring), hence
# `on_redefinition="ignore"`.
_DEFINITIONS = (
    "bbl = 42 * gallon = _ = stb = STB = oil_bbl",
    # Oilfield M is a thousand: without these pint would read Mbbl as a mega-barrel.
    "Mbbl = 1000 * bbl = _ = Mstb",
    "MMbbl = 1000000 * bbl = _ = MMstb",
    "bpd = bbl / day = _ = bopd = bwpd = blpd = bfpd = BOPD = BWPD = BLPD = BFPD",
    "scf = foot ** 3",
    "Mscf = 1000 * scf = _ = Mcf",
    "MMscf = 1000000 * scf = _ = MMcf",
    "Bscf = 1000000000 * scf = _ = Bcf",
    "Tscf = 1000000000000 * scf = _ = Tcf",
    "Mscfd = Mscf / day = _ = Mcfd",
    "MMscfd = MMscf / day = _ = MMcfd",
    # SPE field usage: D is the day in rates (STB/D, Mscf/D); md and mD are millidarcies; cp is cP.
    "D = day",
    "md = 0.001 * darcy = _ = mD",
    "cp = centipoise",
    "hundred_feet = 100 * foot",
    "thirty_metres = 30 * meter",
    "ppg = pound / gallon",
    "ppf = pound / foot",
    "lbm = pound",
    "sg = 999.016 * kilogram / meter ** 3",
    # Revolutions, cycles and strokes are counts (see the module docstring).
    "revolution = 1 = rev",
    "cycle = 1",
    "stk = 1 = _ = stroke",
    "rpm = revolution / minute",
    "spm = stroke / minute",
    "bpm = bbl / minute",
    "gpm = gallon / minute",
)
# Tokens rewritten before parsing: exponents written as digits, and standard cubic metres (Sm3), which
# are volumes like `scf` (standard conditions are not modelled). Applied per whole name only.
_TOKEN_ALIASES = {
    "m2": "m^2", "m3": "m^3", "cm3": "cm^3", "ft2": "ft^2", "ft3": "ft^3", "in2": "in^2", "in3": "in^3",
    "Sm3": "m^3", "sm3": "m^3",
}
# Course lengths of gradients and dogleg severity (`deg/100ft`, `degF/100ft`, `deg/30m`): kept as written
# in `Unit.text`, parsed through named units.
_COURSE_LENGTHS = {"100ft": "hundred_feet", "30m": "thirty_metres"}
_COURSE_RE = re.compile(r"(?<![\w.])(100ft|30m)(?![\w.])")

_REGISTRY: Any = pint.UnitRegistry(cache_folder=None, on_redefinition="ignore")
for _definition in _DEFINITIONS:
    _REGISTRY.define(_definition)

# Spellings used when Centinela writes a unit (pint's own symbols use ° and Δ).
_SYMBOLS = {
    "degree_Fahrenheit": "degF",
    "degree_Celsius": "degC",
    "degree_Rankine": "degR",
    "delta_degree_Fahrenheit": "delta_degF",
    "delta_degree_Celsius": "delta_degC",
    "delta_degree_Rankine": "delta_degR",
    "percent": "%",
    "revolutions_per_minute": "rpm",
    "hundred_feet": "100ft",
    "thirty_metres": "30m",
}
_OWN_NAMES = frozenset(d.split("=", 1)[0].strip() for d in _DEFINITIONS)

_GAUGE_OR_ABSOLUTE = {"psia", "psig", "barg", "bara", "kPag", "kPaa"}

_ALLOWED = re.compile(r"^[A-Za-z_%0-9\s*/^().\-²³µ]+$")

KNOWN_UNITS: tuple[str, ...] = (
    "bbl", "bbl/d", "bbl/min", "bpm", "stb", "gal", "gpm", "m^3", "m^3/d",
    "scf", "Mscf", "MMscf", "Mcf", "Mscf/d", "MMscf/d", "scf/bbl",
    "psi", "Pa", "kPa", "MPa", "bar", "psi/ft",
    "ppg", "lb/gal", "sg", "kg/m^3",
    "ft", "m", "in", "mm", "ft/h", "m/h",
    "lbf", "klbf", "N", "kN", "ft*lbf", "kft*lbf", "N*m",
    "rpm", "spm", "Hz",
    "%", "degF", "degC", "K", "degR",
    "cP", "Pa*s",
    "hp", "W", "kW", "A", "V",
    "lb", "kg", "s", "min", "h", "d",
    # Later additions go last: the first names are quoted in diagnostics' hints.
    "bpd", "Mbbl", "MMbbl", "Mscfd", "MMscfd", "Bcf", "lb/ft", "bbl/stk", "STB/D", "mD", "deg/100ft",
)


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit as the author wrote it, normalised (`"psi"`, `"bbl/d"`, `"ft*lbf"`, `"%"`, `"1"`)."""

    text: str

    def is_dimensionless(self) -> bool:
        return bool(_pint(self.text).dimensionless)

    def __str__(self) -> str:
        return self.text


DIMENSIONLESS = Unit("1")
SECOND = Unit("s")


def _normalise(text: str) -> str:
    text = text.replace("·", "*").replace("⋅", "*").replace("×", "*")
    for glyph, name in (("°F", "degF"), ("°C", "degC"), ("°R", "degR"), ("℉", "degF"), ("℃", "degC")):
        text = text.replace(glyph, name)
    text = re.sub(r"\s*([*/^()])\s*", r"\1", text.strip())
    text = re.sub(r"[A-Za-z_][A-Za-z_0-9]*", lambda m: _TOKEN_ALIASES.get(m.group(0), m.group(0)), text)
    return re.sub(r"\s+", " ", text)


def _nearest(name: str) -> str | None:
    known = list(KNOWN_UNITS) + sorted(_OWN_NAMES)
    lowered = {n.lower(): n for n in known}
    if name.lower() in lowered:
        return lowered[name.lower()]
    for pool in (known, _all_names()):
        close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
        if close:
            return close[0]
    return None


@lru_cache(maxsize=1)
def _all_names() -> list[str]:
    return sorted(n for n in _REGISTRY._units if not n.startswith("_"))


@lru_cache(maxsize=4096)
def _pint(text: str) -> Any:
    """The pint unit for `text` (normalised first), temperatures in compounds read as differences."""
    normal = _COURSE_RE.sub(lambda m: _COURSE_LENGTHS[m.group(1)], _normalise(text))
    unit = _parse(normal)
    items = list(unit._units.items())
    compound = len(items) > 1 or any(exp != 1 for _, exp in items)
    if compound and any(not _REGISTRY._units[name].is_multiplicative for name, _ in items):
        return _parse(_from_container(_deltas(unit._units)).text)
    return unit


def _parse(text: str) -> Any:
    """Parse normalised text with pint, or raise `UnitError` with a whole-sentence message and a hint."""
    bare = re.sub(r"(\^|\*\*)\(?-?\d+(\.\d+)?\)?", "", text)
    if not text or not _ALLOWED.match(text) or "//" in text or "." in bare:
        msg = f"The unit '{text}' is not a valid unit expression; write names joined by '*', '/' and '^'."
        raise UnitError(msg)
    if text == "1":
        return _REGISTRY.dimensionless
    try:
        return _REGISTRY.parse_units(text)
    except pint.UndefinedUnitError as exc:
        names = exc.unit_names if isinstance(exc.unit_names, tuple) else (exc.unit_names,)
        name = str(names[0]) if names else text
        if name.lower() in {"api", "degapi"}:
            msg = (
                f"Unknown unit '{name}': API gravity is not proportional to density, so it is not a unit; "
                "write it as a plain number and convert it with api_to_sg(...)."
            )
            raise UnitError(msg) from None
        if name in _GAUGE_OR_ABSOLUTE:
            base = name[:-1]
            msg = (
                f"Unknown unit '{name}'; did you mean '{base}'? Centinela does not track gauge or absolute "
                f"pressure: write '{base}' and say gauge or absolute in the property name."
            )
            raise UnitError(msg) from None
        hint = _nearest(name)
        suggestion = f"; did you mean '{hint}'?" if hint else "."
        where = f" in '{text}'" if name != text else ""
        msg = f"Unknown unit '{name}'{where}{suggestion}"
        raise UnitError(msg) from None
    except Exception as exc:  # pint raises ValueError, TypeError, tokenize errors on bad syntax
        msg = f"The unit '{text}' is not a valid unit expression ({exc})."
        raise UnitError(msg) from None


@lru_cache(maxsize=4096)
def parse_unit(text: str) -> Unit:
    """Parse unit text as written in a `.rules` file; `UnitError` names the unit and the nearest name."""
    normalised = _normalise(text)
    _pint(normalised)
    return Unit(normalised)


def is_offset(a: Unit) -> bool:
    """True for absolute temperatures (`degF`, `degC`), whose conversion needs an offset."""
    return any(not _REGISTRY._units[name].is_multiplicative for name in _pint(a.text)._units)


def delta(a: Unit) -> Unit:
    """The unit of a difference of two `a` values (`degF` → `delta_degF`; others unchanged)."""
    return _from_container(_deltas(_pint(a.text)._units))


@lru_cache(maxsize=4096)
def _convert(frm: str, to: str) -> tuple[float, float]:
    a, b = _pint(frm), _pint(to)
    if a.dimensionality != b.dimensionality:
        msg = (
            f"The unit '{frm}' ({describe(Unit(frm))}) cannot be converted to '{to}' ({describe(Unit(to))})."
        )
        raise UnitError(msg)
    try:
        zero = float(_REGISTRY.Quantity(0.0, a).to(b).magnitude)
        # The scale comes from the difference units, which pint converts by a pure factor: exact
        # where a two-point difference of offset values would carry rounding noise.
        da, db = _pint(delta(Unit(frm)).text), _pint(delta(Unit(to)).text)
        scale = float(_REGISTRY.Quantity(1.0, da).to(db).magnitude)
    except pint.PintError:
        msg = (
            f"The unit '{frm}' cannot be converted to '{to}': one is an absolute temperature and the "
            "other a temperature difference."
        )
        raise UnitError(msg) from None
    return scale, zero


def conversion(frm: Unit, to: Unit) -> tuple[float, float]:
    """`(scale, offset)` with `to_value = from_value * scale + offset`; `UnitError` if incompatible."""
    return _convert(frm.text, to.text)


def compatible(a: Unit, b: Unit) -> bool:
    """True when a value in `a` can be converted to `b` (same dimensionality)."""
    try:
        _convert(a.text, b.text)
    except UnitError:
        return False
    return True


def _deltas(container: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, exp in container.items():
        if not _REGISTRY._units[name].is_multiplicative:
            name = f"delta_{name}"
        out[name] = out.get(name, 0.0) + float(exp)
    return out


def _symbol(name: str) -> str:
    if name in _SYMBOLS:
        return _SYMBOLS[name]
    if name in _OWN_NAMES:
        return name
    return str(_REGISTRY.get_symbol(name))


def _factor(name: str, exp: float) -> str:
    sym = _symbol(name)
    if exp == 1:
        return sym
    shown = int(exp) if float(exp).is_integer() else exp
    return f"{sym}^{shown}"


def _from_container(container: dict[str, float]) -> Unit:
    num = [_factor(n, e) for n, e in container.items() if e > 0]
    den = [_factor(n, -e) for n, e in container.items() if e < 0]
    top = "*".join(num) if num else "1"
    if not den:
        text = top
    elif len(den) == 1:
        text = f"{top}/{den[0]}"
    else:
        text = f"{top}/({'*'.join(den)})"
    _pint(text)
    return Unit(text)


def _combine(a: Unit, b: Unit, sign: int) -> Unit:
    out = _deltas(_pint(a.text)._units)
    for name, exp in _deltas(_pint(b.text)._units).items():
        out[name] = out.get(name, 0.0) + sign * exp
    return _from_container({n: e for n, e in out.items() if e != 0})


def multiply(a: Unit, b: Unit) -> Unit:
    """The unit of `x * y` for `x` in `a` and `y` in `b` (temperatures become differences)."""
    return _combine(a, b, 1)


def divide(a: Unit, b: Unit) -> Unit:
    """The unit of `x / y`; like units cancel (`bbl/d ÷ bbl/d` → `1`, `Mscf/d ÷ bbl/d` → `Mscf/bbl`)."""
    return _combine(a, b, -1)


def power(a: Unit, n: float) -> Unit:
    """The unit of `x ** n` (`n` a compile-time constant)."""
    return _from_container({k: e * n for k, e in _deltas(_pint(a.text)._units).items() if e * n != 0})


def per_second(a: Unit) -> Unit:
    """The unit of `rate(x, w)`: `a` per second."""
    return divide(a, SECOND)


def times_second(a: Unit) -> Unit:
    """The unit of `integral(x)`: `a` times seconds."""
    return multiply(a, SECOND)


_DIMENSION_NAMES: dict[Any, str] = {}


def _name_dimensions() -> None:
    named = (
        ("1", "dimensionless"), ("m", "length"), ("kg", "mass"), ("s", "time"), ("K", "temperature"),
        ("A", "current"), ("m^2", "area"), ("m^3", "volume"), ("m^3/s", "volume rate"),
        ("kg/s", "mass rate"), ("m/s", "velocity"), ("m/s^2", "acceleration"), ("N", "force"),
        ("Pa", "pressure"), ("Pa/m", "pressure gradient"), ("J", "energy or torque"), ("W", "power"),
        ("kg/m^3", "density"), ("Pa*s", "dynamic viscosity"), ("m^2/s", "kinematic viscosity"),
        ("Hz", "frequency"), ("V", "voltage"), ("ohm", "resistance"), ("C", "charge"),
        ("K/m", "temperature gradient"), ("N/m", "force per length"), ("1/Pa", "compressibility"),
    )
    for text, words in named:
        _DIMENSION_NAMES[_REGISTRY.parse_units(text).dimensionality] = f"[{words}]"


_name_dimensions()


def describe(a: Unit) -> str:
    """The dimensionality in words, for hints: `"[pressure]"`, `"[volume rate]"`, `"[dimensionless]"`."""
    q = _pint(a.text)
    words = _DIMENSION_NAMES.get(q.dimensionality, str(q.dimensionality))
    if words == "[temperature]":
        offset = any(not _REGISTRY._units[name].is_multiplicative for name in q._units)
        absolute = offset or not any(name.startswith("delta_") for name in q._units)
        return "[temperature]" if absolute else "[temperature difference]"
    return words
