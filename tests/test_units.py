import math

import pytest

from pancommons.units import IncompatibleUnit, UnknownUnit, normalise, parse_unit, to_si


@pytest.mark.parametrize(
    "value, unit, expect, si_value, si_unit",
    [
        (0.98, "angstrom", "length", 0.98e-10, "m"),
        (1.0, "Angstrom", "length", 1e-10, "m"),  # APS spelling
        (1.0, "A", "length", 1e-10, "m"),  # a bare A is an ångström where a length is expected
        (1.0, "\u00c5", "length", 1e-10, "m"),  # Å as decoded from Latin-1
        (1.0, "\u212b", "length", 1e-10, "m"),  # the ANGSTROM SIGN code point
        (12.0, "KeV", "energy", 12e3 * 1.602176634e-19, "J"),  # SOLEIL spelling
        (130.0, "meV", "energy", 130e-3 * 1.602176634e-19, "J"),
        (20.0, "C", "temperature", 293.15, "K"),  # a bare C is Celsius where a temperature is expected
        (20.0, "celsius", "temperature", 293.15, "K"),  # mathjs spelling used by the PaNOSC reference
        (68.0, "fahrenheit", "temperature", 293.15, "K"),
        (6.0, "bars", "pressure", 6e5, "Pa"),
        (0.045, "1/A", None, 0.045e10, "1/m"),  # scattering vector, never per ampere
        (300.0, "mm", "length", 0.3, "m"),
        (3.0, "c/s", None, 3.0, "Hz"),  # counts per second, not light speed per second
    ],
)
def test_beamline_spellings_normalise_to_si(value, unit, expect, si_value, si_unit):
    result = to_si(value, unit, expect)
    assert result.si_value == pytest.approx(si_value)
    assert result.si_unit == si_unit


def test_a_is_ampere_outside_a_length_context_and_c_is_coulomb():
    assert parse_unit("A") != parse_unit("A", "length")
    with pytest.raises(IncompatibleUnit):
        parse_unit("K", "length")


@pytest.mark.parametrize("unit", ["", "No unit", "UU", "User Unit", "none", "a.u.", "bananas", "$$"])
def test_non_physical_or_unknown_units_have_no_si_value(unit):
    assert normalise(1.0, unit) is None
    with pytest.raises(UnknownUnit):
        parse_unit(unit)


def test_nothing_to_normalise():
    assert normalise(1.0, None) is None
    assert normalise(math.nan, "K") is None
    assert normalise(1.0, "pixels", "length") is None  # a pixel is not a length
