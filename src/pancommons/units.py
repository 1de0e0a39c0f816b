"""Units as beamlines write them, normalised through one pint registry.

Beamline software writes units loosely (``Angstrom``, ``KeV``, ``C`` for
degrees Celsius, a Latin-1 ``Å``, ``bars``).  Everything the catalogue
compares is stored twice: the value and unit as written (for display) and
the value in SI (for comparisons).  A unit that cannot be understood keeps
its original text and gets no SI value: it is displayed, never compared.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import pint

ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
# pint knows gauss and oersted only as Gaussian-system units (kg^½·m^-½/s);
# beamlines mean the SI field strengths, under names of their own here.
ureg.define("si_gauss = 1e-4 * tesla")
ureg.define("si_kilogauss = 1e-1 * tesla")
ureg.define("si_milligauss = 1e-7 * tesla")
ureg.define("si_oersted = 1000 / (4 * pi) * ampere / meter")

# What a parameter is expected to measure: the name used by the extraction and
# the query layers, and pint's dimensionality for it.
DIMENSIONS = {
    "length": "[length]",
    "energy": "[energy]",
    "temperature": "[temperature]",
    "pressure": "[pressure]",
    "time": "[time]",
    "frequency": "1/[time]",
    "angle": "",  # radians are dimensionless in pint
}

# The SI unit a measured dimension is stored in (pint's base units are
# correct but unreadable for energy and pressure: kg·m²/s²).
_SI_FOR_DIMENSION = {
    "[length]": "m",
    "[temperature]": "K",
    "[mass] * [length] ** 2 / [time] ** 2": "J",
    "[mass] / [length] / [time] ** 2": "Pa",
    "[time]": "s",
    "1 / [time]": "Hz",
    "1 / [length]": "1/m",
    "[mass]": "kg",
    "[current]": "A",
    "[mass] * [length] ** 2 / [time] ** 3 / [current]": "V",
    "[mass] / [time] ** 2 / [current]": "T",
    "[current] / [length]": "A/m",
}

# Spellings seen in real files that pint does not read, or reads as something
# no beamline means (``1/A`` is inverse ångström in scattering, never per ampere).
_ALIASES = {
    "angstrom": "angstrom",
    "angstroms": "angstrom",
    "ang": "angstrom",
    "å": "angstrom",
    "\u212b": "angstrom",  # ANGSTROM SIGN, distinct from Å
    "1/a": "1/angstrom",
    "a^-1": "1/angstrom",
    "a-1": "1/angstrom",
    "1/angstrom": "1/angstrom",
    "kev": "keV",
    "ev": "eV",
    "deg c": "degC",
    "°c": "degC",
    "celsius": "degC",
    "degc": "degC",
    "deg f": "degF",
    "°f": "degF",
    "fahrenheit": "degF",
    "kelvin": "K",
    "volts": "V",
    "c/s": "count/second",  # counts per second, not the speed of light per second
    "cps": "count/second",
    "microns": "micrometer",
    "micron": "micrometer",
    "degrees": "degree",
    "°": "degree",
    "bars": "bar",
    "mbars": "mbar",
    # pint reads these in Gaussian units (kg^½·m^-½/s); beamlines mean their SI equivalents
    "gauss": "si_gauss",
    "oe": "si_oersted",
    "oersted": "si_oersted",
}
# Spellings whose case is their meaning: G is gauss where g is a gram, kG kilogauss where kg is a kilogram.
_CASED_ALIASES = {"G": "si_gauss", "Gs": "si_gauss", "kG": "si_kilogauss", "mG": "si_milligauss"}

# Within a known dimension a bare letter has one meaning; without one it has
# several (Å or ampere, °C or coulomb, °F or farad) and is not guessed.
_CONTEXT_ALIASES = {
    "length": {"a": "angstrom"},
    "temperature": {"c": "degC", "f": "degF", "deg": "degC"},
}
_AMBIGUOUS_ALONE = {"a", "c", "f"}

# What a quantity measures, from words in its name, for fields the catalogue
# reads without knowing them (extra parameters).
_NAME_DIMENSIONS = (
    ("temperature", "temperature"), ("temp", "temperature"),
    ("pressure", "pressure"),
    ("wavelength", "length"), ("distance", "length"), ("pixel_size", "length"), ("thickness", "length"),
    ("energy", "energy"),
    ("count_time", "time"), ("exposure", "time"), ("duration", "time"),
)


def expected_dimension(name: str) -> str | None:
    """The dimension a parameter's name says it measures, if it says one: by whole words
    (``temperature_setpoint`` is a temperature; ``attempts`` holds no ``temp``)."""
    words = re.split(r"[^a-z0-9]+", name.lower().rsplit("/", 1)[-1])
    joined = "_".join(words)
    for word, dimension in _NAME_DIMENSIONS:
        if word in words or ("_" in word and word in joined):
            return dimension
    return None


# Units that say "no physical unit": kept for display, never compared.
_NOT_PHYSICAL = {"", "none", "no unit", "uu", "user unit", "eng", "a.u.", "au", "arb", "arbitrary", "n/a", "na"}


class UnknownUnit(ValueError):
    """A unit string that no alias and no pint definition explains."""

    def __init__(self, unit: str):
        super().__init__(f"unknown unit {unit!r}")
        self.unit = unit


class IncompatibleUnit(ValueError):
    """A unit of another dimension than the one the quantity needs."""


@dataclass(frozen=True, slots=True)
class Normalised:
    si_value: float
    si_unit: str


def _candidates(unit: str, expect: str | None) -> list[str]:
    text = unit.strip()
    key = text.lower()
    out: list[str] = [_CASED_ALIASES[text]] if text in _CASED_ALIASES else []
    if expect and key in _CONTEXT_ALIASES.get(expect, {}):
        out.append(_CONTEXT_ALIASES[expect][key])
    if key in _ALIASES:
        out.append(_ALIASES[key])
    out.append(text)
    return out


@lru_cache(maxsize=4096)
def parse_unit(unit: str, expect: str | None = None) -> pint.Unit:
    """The pint unit a written unit means, checked against ``expect`` when given.

    Raises UnknownUnit when nothing parses, IncompatibleUnit when it parses to
    another dimension than ``expect``.
    """
    key = unit.strip().lower()
    if key in _NOT_PHYSICAL or (expect is None and key in _AMBIGUOUS_ALONE):
        raise UnknownUnit(unit)
    parsed: pint.Unit | None = None
    for candidate in _candidates(unit, expect):
        try:
            parsed = ureg.Unit(candidate)
        except (pint.errors.UndefinedUnitError, pint.errors.DefinitionSyntaxError, ValueError, TypeError, AttributeError):
            continue
        except Exception:  # pint's tokenizer raises assorted errors on junk
            continue
        if expect is None or _has_dimension(parsed, expect):
            return parsed
    if parsed is not None:
        raise IncompatibleUnit(f"unit {unit!r} does not measure {expect}")
    raise UnknownUnit(unit)


def _has_dimension(parsed: pint.Unit, expect: str) -> bool:
    wanted = DIMENSIONS.get(expect)
    if wanted is None:
        return True
    if wanted == "":
        return parsed.dimensionless
    return parsed.dimensionality == ureg.get_dimensionality(wanted)


_ANGLE_UNITS = {"radian", "degree", "arcminute", "arcsecond", "milliradian", "microradian", "gradian", "turn"}


def si_unit_of(parsed: pint.Unit) -> str:
    dims = str(parsed.dimensionality)
    if dims in _SI_FOR_DIMENSION:
        return _SI_FOR_DIMENSION[dims]
    if parsed.dimensionless:
        # pint counts angles as dimensionless; so are percentages and counts, which are not angles
        return "rad" if str(parsed) in _ANGLE_UNITS else ""
    return f"{ureg.Quantity(1, parsed).to_base_units().units:~}"


@lru_cache(maxsize=4096)
def _si_conversion(unit: str, expect: str | None) -> tuple[float, float, str]:
    """(scale, offset, SI unit) with SI = value * scale + offset.

    Every unit a beamline writes is linear or affine (°C, °F), so two pint
    conversions, done once per spelling, give the exact map; converting each
    value through pint costs tens of microseconds, thousands of times a second.
    """
    parsed = parse_unit(unit, expect)
    target = si_unit_of(parsed)
    into = {"": ureg.dimensionless, "rad": ureg.radian, "1/m": 1 / ureg.meter}.get(target, target)
    offset = float(ureg.Quantity(0.0, parsed).to(into).magnitude)
    if offset == 0.0:
        scale = float(ureg.Quantity(1.0, parsed).to(into).magnitude)
    else:  # affine: the slope from a far point, so the offset's rounding does not leak into it
        scale = (float(ureg.Quantity(1e6, parsed).to(into).magnitude) - offset) / 1e6
    return scale, offset, target


def to_si(value: float, unit: str, expect: str | None = None) -> Normalised:
    """``value`` in ``unit`` expressed in SI (offset units exact: 20 degC → 293.15 K)."""
    scale, offset, target = _si_conversion(unit, expect)
    return Normalised(value * scale + offset, target)


def si_conversion(unit: str) -> tuple[float, float, str]:
    """(scale, offset, SI unit) of a unit a query names: SI = value * scale + offset."""
    return _si_conversion(unit, None)


def from_si(si_value: float, unit: str) -> float:
    """An SI value expressed in ``unit``, rounded to 12 significant digits so a
    round trip is exact as written: 293.15 K comes back as 20 °C, not 19.999999999999977."""
    scale, offset, _ = _si_conversion(unit, None)
    return float(f"{(si_value - offset) / scale:.12g}")


def normalise(value: float, unit: str | None, expect: str | None = None) -> Normalised | None:
    """SI form of a measured value, or None when its unit is missing, unknown or of the wrong kind."""
    if unit is None or not math.isfinite(value):
        return None
    try:
        return to_si(value, unit, expect)
    except (UnknownUnit, IncompatibleUnit):
        return None


def human_size(size: int | None) -> str:
    """A byte count as people read it, in SI steps: 950 B, 72.2 kB, 1.4 GB."""
    value = float(size or 0)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"
