"""The ten compatibility scenarios of panosc-search-api.md, over the reference fixture, on both backends."""

from __future__ import annotations

from tests.api.conftest import get

DATASET_1 = "20.500.12269/panosc-dataset1"
REQUIRED = ("pid", "title", "isPublic", "creationDate", "score")


def parameter_scope(*conditions):
    return {"relation": "parameters", "scope": {"where": {"and": list(conditions)}}}


def test_1_datasets_by_technique_name_hold_only_that_technique(reference_api):
    status, datasets = get(reference_api, "/api/Datasets", filter={
        "include": [{"relation": "techniques", "scope": {"where": {"name": "x-ray absorption"}}}]})
    assert status == 200
    assert sorted(d["pid"] for d in datasets) == ["20.500.12269/panosc-dataset3", "20.500.12269/panosc-dataset4"]
    for dataset in datasets:
        assert [t["name"] for t in dataset["techniques"]] == ["x-ray absorption"]
        assert dataset["techniques"][0]["panetId"] == "http://purl.org/pan-science/PaNET/PaNET01227"


def test_2_photon_energy_between_in_ev(reference_api):
    status, datasets = get(reference_api, "/api/Datasets", filter={"include": [
        parameter_scope({"name": "photon_energy"}, {"value": {"between": [880, 990]}}, {"unit": "eV"})]})
    assert status == 200
    assert [d["pid"] for d in datasets] == ["20.500.12269/panosc-dataset2"]
    for parameter in datasets[0]["parameters"]:
        assert parameter["name"] == "photon_energy" and parameter["unit"] == "eV"
        assert 880 <= parameter["value"] <= 990
    assert datasets[0]["parameters"][0]["value"] == 930


def test_2b_the_same_energy_asked_in_kev_comes_back_in_kev(reference_api):
    _, datasets = get(reference_api, "/api/Datasets", filter={"include": [
        parameter_scope({"name": "photon_energy"}, {"value": {"between": [0.88, 0.99]}}, {"unit": "keV"})]})
    assert [(p["value"], p["unit"]) for p in datasets[0]["parameters"]] == [(0.93, "keV")]


def test_3_parameter_either_solid_or_copper(reference_api):
    status, datasets = get(reference_api, "/api/Datasets", filter={"include": [{"relation": "parameters", "scope": {
        "where": {"or": [{"and": [{"name": "sample_state"}, {"value": "solid"}]},
                         {"and": [{"name": "chemical_formula"}, {"value": "Cu"}]}]}}}]})
    assert status == 200
    assert [d["pid"] for d in datasets] == [DATASET_1]
    assert sorted((p["name"], p["value"]) for p in datasets[0]["parameters"]) == [
        ("chemical_formula", "Cu"), ("sample_state", "solid")]


def test_4_temperature_below_80_celsius_comes_back_as_exactly_20(reference_api):
    status, datasets = get(reference_api, "/api/Datasets", filter={"include": [
        parameter_scope({"name": "temperature"}, {"value": {"lt": 80}}, {"unit": "celsius"})]})
    assert status == 200
    assert [d["pid"] for d in datasets] == ["20.500.12269/panosc-dataset3"]
    assert datasets[0]["parameters"] == [{"id": datasets[0]["parameters"][0]["id"], "name": "temperature",
                                          "value": 20, "unit": "celsius"}]


def test_4b_temperature_in_kelvin_and_fahrenheit_finds_the_same_and_converts_exactly(reference_api):
    _, in_kelvin = get(reference_api, "/api/Datasets", filter={"include": [
        parameter_scope({"name": "temperature"}, {"value": {"between": [293, 294]}}, {"unit": "K"})]})
    assert [(p["value"], p["unit"]) for p in in_kelvin[0]["parameters"]] == [(293.15, "K")]
    _, in_fahrenheit = get(reference_api, "/api/Datasets", filter={"include": [
        parameter_scope({"name": "temperature"}, {"value": {"gt": 60}}, {"unit": "fahrenheit"})]})
    assert [(p["value"], p["unit"]) for p in in_fahrenheit[0]["parameters"]] == [(68, "fahrenheit")]
    _, too_cold = get(reference_api, "/api/Datasets", filter={"include": [
        parameter_scope({"name": "temperature"}, {"value": {"lt": 60}}, {"unit": "fahrenheit"})]})
    assert too_cold == []


def test_4c_a_unit_of_another_dimension_matches_nothing(reference_api):
    status, datasets = get(reference_api, "/api/Datasets", filter={"include": [
        parameter_scope({"name": "temperature"}, {"value": {"lt": 80}}, {"unit": "nm"})]})
    assert (status, datasets) == (200, [])


def test_5_datasets_with_files_matching_text(reference_api):
    status, datasets = get(reference_api, "/api/Datasets", filter={
        "include": [{"relation": "files", "scope": {"where": {"text": "file1"}}}]})
    assert status == 200
    assert [d["pid"] for d in datasets] == [DATASET_1]
    assert [f["name"] for f in datasets[0]["files"]] == ["panosc-file1.hdf"]


def test_6_proposals_with_a_member_named_james_chadwick(reference_api):
    status, documents = get(reference_api, "/api/Documents", filter={
        "where": {"type": "proposal"},
        "include": [{"relation": "members", "scope": {"include": [
            {"relation": "person", "scope": {"where": {"fullName": "James Chadwick"}}}]}}]})
    assert status == 200
    assert [d["pid"] for d in documents] == ["10.5072/panosc-document2"]
    members = documents[0]["members"]
    assert [m["person"]["fullName"] for m in members] == ["James Chadwick"]


def test_7_documents_by_wavelength_of_their_datasets_or_their_own(reference_api):
    wavelength = {"where": {"and": [{"name": "wavelength"}, {"value": {"between": [1000, 1100]}}, {"unit": "nm"}]}}
    _, through_datasets = get(reference_api, "/api/Documents", filter={"include": [
        {"relation": "datasets", "scope": {"include": [{"relation": "parameters", "scope": wavelength}]}}]})
    assert [d["pid"] for d in through_datasets] == ["10.5072/panosc-document2"]
    assert [d["pid"] for d in through_datasets[0]["datasets"]] == ["20.500.12269/panosc-dataset4"]
    _, directly = get(reference_api, "/api/Documents", filter={"include": [{"relation": "parameters", "scope": wavelength}]})
    assert [d["pid"] for d in directly] == ["10.5072/panosc-document1"]
    assert [(p["value"], p["unit"]) for p in directly[0]["parameters"]] == [(1064, "nm")]
    _, in_micrometre = get(reference_api, "/api/Documents", filter={"include": [{"relation": "parameters", "scope": {
        "where": {"and": [{"name": "wavelength"}, {"value": {"gt": 1}}, {"unit": "um"}]}}}]})
    assert [(p["value"], p["unit"]) for p in in_micrometre[0]["parameters"]] == [(1.064, "um")]


def test_8_documents_with_both_a_sample_and_a_technique(reference_api):
    status, documents = get(reference_api, "/api/Documents", filter={"include": [{"relation": "datasets", "scope": {
        "include": [
            {"relation": "samples", "scope": {"where": {"name": "solid copper cylinder"}}},
            {"relation": "techniques", "scope": {"where": {"name": "small-angle neutron scattering"}}},
        ]}}]})
    assert status == 200
    assert [d["pid"] for d in documents] == ["10.5072/panosc-document1"]
    assert sorted(d["pid"] for d in documents[0]["datasets"]) == [DATASET_1, "20.500.12269/panosc-dataset2"]


def test_9_instruments_by_name_and_pages_by_facility(reference_api):
    _, loki = get(reference_api, "/api/Instruments", filter={"where": {"name": "LoKI"}})
    assert [(i["name"], i["facility"]) for i in loki] == [("LoKI", "ESS")]
    _, every = get(reference_api, "/api/Instruments", filter={"where": {"facility": "ESS"}, "limit": 100})
    names = [i["name"] for i in every]
    assert len(names) == 15 and names == sorted(names, key=str.lower)
    _, page = get(reference_api, "/api/Instruments", filter={"where": {"facility": "ESS"}, "skip": 10, "limit": 3})
    assert [i["name"] for i in page] == names[10:13]
    assert get(reference_api, "/api/Instruments/count", where={"facility": "ESS"}) == (200, {"count": 15})


def test_10_every_dataset_in_every_list_has_the_required_fields(reference_api):
    lists = [
        get(reference_api, "/api/Datasets")[1],
        get(reference_api, "/api/Datasets", filter={"include": ["techniques", "parameters", "samples", "files"]})[1],
        [d for doc in get(reference_api, "/api/Documents", filter={"include": ["datasets"]})[1] for d in doc["datasets"]],
        get(reference_api, "/api/Datasets", query="PaNOSC")[1],
    ]
    assert all(lists)
    for datasets in lists:
        for dataset in datasets:
            assert all(field in dataset for field in REQUIRED), dataset
            assert isinstance(dataset["isPublic"], bool) and isinstance(dataset["score"], (int, float))


def test_paths_are_case_insensitive_and_pids_may_hold_slashes(reference_api):
    for path in ("/api/datasets", "/api/DATASETS", "/api/Datasets"):
        assert get(reference_api, f"{path}/count") == (200, {"count": 4})
    plain = reference_api.get(f"/api/Datasets/{DATASET_1}")
    encoded = reference_api.get("/api/datasets/20.500.12269%2Fpanosc-dataset1")
    assert plain.status_code == encoded.status_code == 200
    assert plain.json()["pid"] == encoded.json()["pid"] == DATASET_1
    status, with_files = get(reference_api, f"/api/Datasets/{DATASET_1}", filter={"include": ["files"]})
    assert status == 200 and [f["name"] for f in with_files["files"]] == ["panosc-file1.hdf"]
    status, files = get(reference_api, "/api/Datasets/20.500.12269%2Fpanosc-dataset1/Files")
    assert status == 200 and [f["name"] for f in files] == ["panosc-file1.hdf"]
    assert get(reference_api, f"/api/Datasets/{DATASET_1}/files/count") == (200, {"count": 1})
    status, body = get(reference_api, "/api/Datasets/no-such-pid")
    assert status == 404 and "no-such-pid" in body["error"]["message"]
    assert reference_api.get("/api/Datasets/no-such-pid/files").status_code == 404


def test_text_query_scores_lie_in_0_1_and_order_the_results(reference_api):
    status, datasets = get(reference_api, "/api/Datasets", filter={"query": "copper scattering"})
    assert status == 200 and datasets
    scores = [d["score"] for d in datasets]
    assert all(0 < score <= 1 for score in scores) and scores == sorted(scores, reverse=True)
    # datasets 1 and 2 hold both words (copper sample, small-angle neutron scattering); 3 and 4 only copper
    assert {d["pid"] for d in datasets[:2]} == {DATASET_1, "20.500.12269/panosc-dataset2"}
    assert get(reference_api, "/api/Datasets/count", query="copper scattering") == (200, {"count": 4})
    _, nothing = get(reference_api, "/api/Datasets", query="zeolite")
    assert nothing == []
    _, untitled = get(reference_api, "/api/Datasets")
    assert [d["score"] for d in untitled] == [0, 0, 0, 0]
    assert [d["title"] for d in untitled] == sorted(d["title"] for d in untitled)


def temperature(client, *conditions):
    _, datasets = get(client, "/api/Datasets", filter={"include": [{"relation": "parameters", "scope": {"where": {
        "and": [{"name": "temperature"}, *conditions]}}}]})
    return [(d["pid"], [(p["value"], p["unit"]) for p in d["parameters"]]) for d in datasets]


def test_units_reach_every_value_condition_of_their_and(reference_api):
    dataset_3 = "20.500.12269/panosc-dataset3"
    assert temperature(reference_api, {"value": 68}, {"unit": "fahrenheit"}) == [(dataset_3, [(68, "fahrenheit")])]
    assert temperature(reference_api, {"or": [{"value": {"gt": 100}}, {"value": {"lt": -300}}]}, {"unit": "celsius"}) == []
    assert temperature(reference_api, {"or": [{"value": {"gt": 10}}, {"value": {"lt": -300}}]}, {"unit": "celsius"}) \
        == [(dataset_3, [(20, "celsius")])]
    assert temperature(reference_api, {"unit": "celsius", "value": {"gt": 100}}) == []
    assert temperature(reference_api, {"value": {"between": [10, 30.5]}}, {"unit": "celsius"}) == [(dataset_3, [(20, "celsius")])]
    assert temperature(reference_api, {"unit": "K"}) == [(dataset_3, [(293.15, "K")])]


def test_two_includes_of_one_relation_show_the_rows_of_both(reference_api):
    _, datasets = get(reference_api, "/api/Datasets", filter={"include": [
        {"relation": "parameters", "scope": {"where": {"name": "chemical_formula"}}},
        {"relation": "parameters", "scope": {"where": {"name": "sample_state"}}}]})
    assert [d["pid"] for d in datasets] == [DATASET_1]
    assert sorted(p["name"] for p in datasets[0]["parameters"]) == ["chemical_formula", "sample_state"]


def test_scope_limit_and_skip_count_per_parent(reference_api):
    def titles(scope):
        _, documents = get(reference_api, "/api/Documents", filter={
            "where": {"pid": "10.5072/panosc-document1"}, "include": [{"relation": "datasets", "scope": scope}]})
        return [d["title"] for d in documents[0]["datasets"]]

    assert titles({}) == ["PaNOSC Test Dataset 1", "PaNOSC Test Dataset 2"]
    assert titles({"limit": 1}) == ["PaNOSC Test Dataset 1"]
    assert titles({"limit": 1, "skip": 1}) == ["PaNOSC Test Dataset 2"]
    assert titles({"order": "title DESC", "limit": 1}) == ["PaNOSC Test Dataset 2"]


def test_fields_never_drop_what_every_dataset_carries(reference_api):
    _, datasets = get(reference_api, "/api/Datasets", filter={"fields": {"title": False}, "limit": 1})
    assert set(REQUIRED) <= set(datasets[0])
    _, narrow = get(reference_api, "/api/Datasets", filter={"fields": ["pid", "size"], "limit": 1})
    assert set(narrow[0]) == set(REQUIRED)  # the fixture has no sizes
