"""Units across the wavelength/photon-energy pair, and deep technique filters over PaNET."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from pancommons.db.tables import Dataset
from pancommons.ingest.panosc_import import import_panosc
from tests.api.conftest import api_client, get, write_dump

PANET = "http://purl.org/pan-science/PaNET/"
WHEN = "2024-01-01T00:00:00Z"


@pytest.fixture
def beamline_api(engine, settings, ontology, tmp_path):
    def dataset(pid, title):
        return {"pid": pid, "title": title, "isPublic": True, "creationDate": WHEN}

    dump = write_dump(
        tmp_path / "dump.json",
        Dataset=[dataset("x/wavelength", "by wavelength"), dataset("x/energy", "by photon energy"),
                 dataset("n/wavelength", "neutron wavelength"), dataset("x/far", "far away")],
        Parameter=[
            {"id": 1, "name": "incident_wavelength", "value": 1.0, "unit": "angstrom", "datasetId": "x/wavelength"},
            {"id": 2, "name": "incident_photon_energy", "value": 12.398, "unit": "keV", "datasetId": "x/energy"},
            {"id": 3, "name": "incident_wavelength", "value": 1.0, "unit": "Å", "datasetId": "n/wavelength"},
            {"id": 4, "name": "incident_wavelength", "value": 0.5, "unit": "nm", "datasetId": "x/far"},
        ],
        Technique=[
            {"pid": "t/powder", "name": "x-ray single crystal diffraction", "panetId": PANET + "PaNET01102"},
            {"pid": "t/sfx", "name": "serial femtosecond crystallography", "panetId": None},
            {"pid": "t/sans", "name": "small angle neutron scattering", "panetId": PANET + "PaNET01189"},
            {"pid": "t/exafs", "name": "EXAFS", "panetId": PANET + "PaNET01196"},
        ],
        DatasetTechnique=[
            {"id": 1, "datasetId": "x/wavelength", "techniqueId": "t/powder"},
            {"id": 2, "datasetId": "x/energy", "techniqueId": "t/exafs"},
            {"id": 3, "datasetId": "n/wavelength", "techniqueId": "t/sans"},
            {"id": 4, "datasetId": "x/far", "techniqueId": "t/sfx"},
            {"id": 5, "datasetId": "x/far", "techniqueId": "t/exafs"},
            {"id": 6, "datasetId": "x/far", "techniqueId": "t/powder"},
        ],
    )
    assert not import_panosc(dump, engine).problems
    with engine.begin() as connection:
        connection.execute(update(Dataset).where(Dataset.pid == "n/wavelength").values(probe="neutron"))
    with api_client(settings, ontology) as client:
        yield client


def by_parameter(client, *conditions):
    status, datasets = get(client, "/api/Datasets", filter={
        "include": [{"relation": "parameters", "scope": {"where": {"and": list(conditions)}}}]})
    assert status == 200
    return {d["pid"]: [(p["name"], p["value"], p["unit"]) for p in d["parameters"]] for d in datasets}


def test_a_wavelength_filter_also_finds_datasets_that_recorded_the_photon_energy(beamline_api):
    found = by_parameter(beamline_api, {"name": "incident_wavelength"}, {"value": {"between": [0.09, 0.11]}}, {"unit": "nm"})
    assert set(found) == {"x/wavelength", "x/energy", "n/wavelength"}
    assert found["x/wavelength"] == [("incident_wavelength", 0.1, "nm")]
    name, value, unit = found["x/energy"][0]
    assert name == "incident_photon_energy" and unit == "nm" and value == pytest.approx(0.1, rel=1e-4)


def test_a_photon_energy_filter_finds_photon_wavelengths_but_not_neutron_ones(beamline_api):
    found = by_parameter(beamline_api, {"name": "incident_photon_energy"}, {"value": {"gt": 12}}, {"unit": "keV"})
    assert set(found) == {"x/energy", "x/wavelength"}  # 1 Å photons are 12.4 keV; 5 Å are 2.5 keV
    assert found["x/energy"] == [("incident_photon_energy", 12.398, "keV")]
    assert found["x/wavelength"][0][1] == pytest.approx(12.398, rel=1e-3)
    below = by_parameter(beamline_api, {"name": "incident_photon_energy"}, {"value": {"lt": 5000}}, {"unit": "eV"})
    assert set(below) == {"x/far"}


def test_a_filter_without_a_unit_compares_the_value_as_written(beamline_api):
    found = by_parameter(beamline_api, {"name": "incident_wavelength"}, {"value": 1.0})
    assert set(found) == {"x/wavelength", "n/wavelength"}


def techniques_of(client, where):
    status, datasets = get(client, "/api/Datasets", filter={
        "include": [{"relation": "techniques", "scope": {"where": where}}]})
    assert status == 200, datasets
    return {d["pid"]: sorted(t["name"] for t in d["techniques"]) for d in datasets}


def test_a_technique_matches_everything_panet_classifies_under_it(beamline_api):
    assert techniques_of(beamline_api, {"name": "x-ray diffraction"}) == {
        "x/wavelength": ["x-ray single crystal diffraction"], "x/far": ["x-ray single crystal diffraction"]}
    for same in ("x-ray diffraction", "XRD", PANET + "PaNET01216", "PaNET:PaNET01216"):
        key = "name" if " " in same or same == "XRD" else "pid"
        assert set(techniques_of(beamline_api, {key: same})) == {"x/wavelength", "x/far"}, same
    small_angle = techniques_of(beamline_api, {"name": "small angle scattering-based techniques"})
    assert small_angle == {"n/wavelength": ["small angle neutron scattering"]}
    # a technique without a PaNET id is still found by its own name
    assert set(techniques_of(beamline_api, {"name": "serial femtosecond crystallography"})) == {"x/far"}


def test_neq_and_nin_mean_some_technique_outside_the_subtree(beamline_api):
    outside = techniques_of(beamline_api, {"name": {"neq": "x-ray absorption spectroscopy"}})
    assert outside == {"x/wavelength": ["x-ray single crystal diffraction"], "n/wavelength": ["small angle neutron scattering"],
                       "x/far": ["serial femtosecond crystallography", "x-ray single crystal diffraction"]}
    assert set(techniques_of(beamline_api, {"name": {"nin": ["x-ray diffraction", "small angle scattering-based techniques"]}})) \
        == {"x/energy", "x/far"}
    assert set(techniques_of(beamline_api, {"pid": {"inq": ["t/sans", PANET + "PaNET01216"]}})) == {
        "x/wavelength", "n/wavelength", "x/far"}


def test_and_of_two_subtrees_needs_a_technique_from_each(beamline_api):
    _, datasets = get(beamline_api, "/api/Datasets", filter={"include": [
        {"relation": "techniques", "scope": {"where": {"name": "x-ray absorption spectroscopy"}}},
        {"relation": "techniques", "scope": {"where": {"name": "serial femtosecond crystallography"}}},
    ]})
    assert [d["pid"] for d in datasets] == ["x/far"]
    _, one_row_both = get(beamline_api, "/api/Datasets", filter={"include": [{"relation": "techniques", "scope": {
        "where": {"and": [{"name": "x-ray absorption spectroscopy"}, {"name": "EXAFS"}]}}}]})
    assert sorted(d["pid"] for d in one_row_both) == ["x/energy", "x/far"]


def test_facets_roll_techniques_up_the_hierarchy_counting_each_dataset_once(beamline_api):
    _, facets = get(beamline_api, "/api/Datasets/facets")
    counts = {item["label"]: item["count"] for item in facets["technique"]}
    assert counts["x-ray single crystal diffraction"] == 2
    assert counts["x-ray diffraction"] == 2
    assert counts["x-ray absorption spectroscopy"] == 2
    assert counts["small angle scattering-based techniques"] == 1
    # x/far holds two techniques under the root (and one without a PaNET id): it counts once, 4 in all
    assert counts["photon and neutron technique"] == 4
    assert facets["total"] == 4
