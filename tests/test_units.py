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


def test_bare_letters_are_read_only_where_the_quantity_is_known():
    assert to_si(1.0, "A", "length").si_unit == "m"  # Å
    assert to_si(20.0, "C", "temperature").si_value == pytest.approx(293.15)  # °C
    for letter in ("A", "C", "F"):  # ampere or Å, coulomb or °C, farad or °F: not guessed
        assert normalise(1.0, letter) is None
    assert to_si(3.0, "mA").si_value == pytest.approx(3e-3)  # prefixed units are not ambiguous
    with pytest.raises(IncompatibleUnit):
        parse_unit("K", "length")


@pytest.mark.parametrize(
    "value, unit, si_value, si_unit",
    [(500.0, "Oe", 500 * 1000 / (4 * 3.141592653589793), "A/m"), (1.0, "gauss", 1e-4, "T"), (2.0, "T", 2.0, "T"),
     (50.0, "%", 0.5, ""), (5.0, "deg", 0.0872664626, "rad")],
)
def test_fields_and_fractions(value, unit, si_value, si_unit):
    result = to_si(value, unit)
    assert result.si_value == pytest.approx(si_value) and result.si_unit == si_unit


def test_a_parameter_name_says_what_it_measures():
    from pancommons.units import expected_dimension

    assert expected_dimension("sample/temperature_setpoint") == "temperature"
    assert expected_dimension("instrument/detector/gas_pressure") == "pressure"
    assert expected_dimension("instrument/monochromator/energy") == "energy"
    assert expected_dimension("instrument/slit/gap") is None


@pytest.mark.parametrize("unit", ["", "No unit", "UU", "User Unit", "none", "a.u.", "bananas", "$$"])
def test_non_physical_or_unknown_units_have_no_si_value(unit):
    assert normalise(1.0, unit) is None
    with pytest.raises(UnknownUnit):
        parse_unit(unit)


def test_nothing_to_normalise():
    assert normalise(1.0, None) is None
    assert normalise(math.nan, "K") is None
    assert normalise(1.0, "pixels", "length") is None  # a pixel is not a length


def test_gram_is_a_gram_and_kilogauss_is_not_a_kilogram():
    assert (to_si(5.0, "g").si_value, to_si(5.0, "g").si_unit) == (pytest.approx(0.005), "kg")
    assert (to_si(2.0, "kG").si_value, to_si(2.0, "kG").si_unit) == (pytest.approx(0.2), "T")
    assert to_si(2.0, "kg").si_unit == "kg"
    assert to_si(1.0, "G").si_value == pytest.approx(1e-4)


def test_names_suggest_by_whole_words():
    from pancommons.units import expected_dimension

    assert expected_dimension("instrument/attempts_interval") is None  # no "temp" in "attempts"
    assert expected_dimension("template_id") is None
    assert expected_dimension("sample/temp") == "temperature"


def test_sizes_read_as_people_write_them():
    from pancommons.units import human_size

    assert [human_size(n) for n in (0, 999, 72_200, 1_400_000_000, 5 * 10**15)] == [
        "0 B", "999 B", "72.2 kB", "1.4 GB", "5000.0 TB"]
