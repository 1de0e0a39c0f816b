import pytest

from pancommons.techniques import TechniqueTableError, load_hints, read_hints, techniques_for

PANET = "http://purl.org/pan-science/PaNET/"


@pytest.mark.parametrize(
    "definition, probe, expected",
    [
        ("NXmx", None, [PANET + "PaNET01164"]),
        ("NXtomo", "x-ray", [PANET + "PaNET01207"]),
        ("NXsas", "neutron", [PANET + "PaNET01189"]),  # the probe-specific row wins
        ("NXsas", "x-ray", [PANET + "PaNET01188"]),
        ("NXcanSAS", None, [PANET + "PaNET01124"]),
        ("nxxas", None, [PANET + "PaNET01196"]),  # case-insensitive
        ("NXarpes", None, [PANET + "PaNET01089"]),
        ("NXdirecttof", "neutron", [PANET + "PaNET01245", PANET + "PaNET01001"]),
        (None, "neutron", []),
        ("NXunknown", None, []),
    ],
)
def test_builtin_table(definition, probe, expected):
    assert [iri for iri, _ in techniques_for(load_hints(), definition, probe, None)] == expected


def test_a_facility_extends_the_table_with_its_instruments(tmp_path):
    extra = tmp_path / "hints.csv"
    extra.write_text(
        "definition,probe,instrument,panet_iri,name\n"
        f",,DIFF3,{PANET}PaNET01100,neutron powder diffraction\n"
    )
    hints = load_hints(extra)
    assert techniques_for(hints, None, "neutron", "diff3") == [(PANET + "PaNET01100", "neutron powder diffraction")]
    # instrument rows add to, not replace, what the file itself says
    assert len(techniques_for(hints, "NXsas", "neutron", "DIFF3")) == 2


@pytest.mark.parametrize(
    "row, message",
    [
        ("NXmx,,,http://example.org/x,mx", "panet_iri must start with"),
        (f",,,{PANET}PaNET01164,mx", "a row must match on definition, probe or instrument"),
        (f"NXmx,,,{PANET}PaNET01164,", "name is empty"),
    ],
)
def test_bad_rows_are_refused_with_their_line(row, message):
    with pytest.raises(TechniqueTableError, match=f"line 2: {message}"):
        read_hints("definition,probe,instrument,panet_iri,name\n" + row, "hints.csv")
