"""The client's searches against a real node: the query builder finds what the hand-written PaNOSC
filter finds, results page lazily, records are typed, and refusals become clear exceptions."""

from __future__ import annotations

import json
import math
from datetime import datetime

import httpx
import pandas
import pytest

from pancommons.client import (
    BadFilter,
    Commons,
    Dataset,
    NotAllowed,
    NotFound,
    ProviderUnavailable,
)
from pancommons.client.query import dataset_filter
from tests.federation.processes import free_port


def _pids_by_hand(node, filter: dict, query: str | None = None) -> list[str]:
    """The same search written as a PaNOSC client writes it, straight over HTTP."""
    params = {"filter": json.dumps({**filter, "limit": 1000})}
    if query:
        params["query"] = query
    answer = httpx.get(f"{node.url}/api/Datasets", params=params)
    assert answer.status_code == 200, answer.text
    return [record["pid"] for record in answer.json()]


def test_keywords_find_what_the_panosc_filter_finds(node):
    commons = Commons(node.url)
    found = commons.datasets(technique="x-ray scattering", temperature_below=(30, "celsius"))
    by_hand = _pids_by_hand(node, {"include": [
        {"relation": "techniques", "scope": {"where": {"name": "x-ray scattering"}}},
        {"relation": "parameters", "scope": {"where": {"and": [
            {"name": "sample_temperature"}, {"value": {"lt": 30}}, {"unit": "celsius"}]}}},
    ]})
    assert [dataset.pid for dataset in found] == by_hand
    assert 0 < len(by_hand) < len(_pids_by_hand(node, {}))  # a real narrowing, not everything or nothing
    for dataset in found:
        # what matched comes back in the query's unit; the complete record keeps the stored one
        [matched] = dataset.matched["parameters"]
        assert matched["unit"] == "celsius" and matched["value"] < 30
        stored = dataset.parameter("sample_temperature")
        assert stored.value - 273.15 == pytest.approx(matched["value"], abs=0.01)
        assert "small angle x-ray scattering" in {technique.name for technique in dataset.techniques}


def test_a_wavelength_range_in_nanometres_matches_angstroms_stored(node):
    commons = Commons(node.url)
    in_nm = [dataset.pid for dataset in commons.datasets(wavelength=(0.09, 0.11, "nm"))]
    in_angstrom = [dataset.pid for dataset in commons.datasets(wavelength=(1.1, 0.9, "angstrom"))]  # either order
    assert in_nm and in_nm == in_angstrom
    for dataset in commons.datasets(wavelength=(0.09, 0.11, "nm")):
        assert 0.09 <= dataset.matched["parameters"][0]["value"] <= 0.11


def test_text_query_orders_by_score_and_combines_with_keywords(node):
    commons = Commons(node.url)
    found = commons.datasets(text="lysozyme", facility="NLS")
    scores = [dataset.score for dataset in found]
    assert scores and scores == sorted(scores, reverse=True) and all(0 < score <= 1 for score in scores)
    assert [dataset.pid for dataset in found] == _pids_by_hand(node, {"where": {"facility": "NLS"}}, "lysozyme")
    assert all(dataset.facility == "NLS" for dataset in found)


def test_raw_filters_pass_through_and_combine_with_keywords(node):
    commons = Commons(node.url)
    where = {"title": {"ilike": "%lysozyme%"}}
    raw = commons.datasets(where=where, kind="raw")
    assert [dataset.pid for dataset in raw] == _pids_by_hand(node, {"where": {"and": [where, {"kind": "raw"}]}})
    as_text = commons.datasets(filter=json.dumps({"where": where, "order": "creationDate DESC"}))
    dates = [dataset.creation_date for dataset in as_text]
    assert dates and dates == sorted(dates, reverse=True)
    with pytest.raises(ValueError, match="limit is set by the results"):
        commons.datasets(filter={"limit": 5})
    with pytest.raises(TypeError, match="unknown search keyword 'colour'"):
        commons.datasets(colour="blue")
    with pytest.raises(ValueError, match=r"wavelength: expected \(low, high, unit\)"):
        commons.datasets(wavelength=(1.0, "angstrom"))


def test_results_page_lazily_and_count_on_the_server(node):
    commons = Commons(node.url)
    everything = commons.datasets(page_size=7)
    mark = len(node.meter.answers)
    iterator = iter(everything)
    next(iterator)
    assert [answer.path for answer in node.meter.since(mark)] == ["/api/Datasets"]  # one page, not all of them
    pids = [next(iterator).pid for _ in range(6)] + [dataset.pid for dataset in iterator]
    total = httpx.get(f"{node.url}/api/Datasets/count").json()["count"]
    assert len(pids) + 1 == total
    listed = [answer for answer in node.meter.since(mark) if answer.path == "/api/Datasets"]
    assert len(listed) == math.ceil(total / 7) + (total % 7 == 0)

    assert len(everything) == total
    narrowed = commons.datasets(technique="small angle neutron scattering")
    assert len(narrowed) == len(list(narrowed)) > 0  # with an include, counted by the facets' total
    assert len(commons.datasets(limit=3)) == 3 and len(list(commons.datasets(limit=3))) == 3
    assert commons.datasets(limit=3)[0:0] == [] and len(commons.datasets(limit=3)[1:]) == 2
    assert [dataset.pid for dataset in everything[2:5]] == [dataset.pid for dataset in list(everything)[2:5]]
    assert everything[4].pid == list(everything)[4].pid
    with pytest.raises(IndexError):
        everything[total]


def test_records_are_typed_with_their_complete_relations(node):
    commons = Commons(node.url)
    page = list(commons.datasets(technique="small angle x-ray scattering", limit=5))
    mark = len(node.meter.answers)
    for dataset in page:
        assert isinstance(dataset, Dataset) and isinstance(dataset.creation_date, datetime)
        assert dataset.instrument is not None and dataset.instrument.facility == dataset.facility
        assert dataset.parameters and all(parameter.name for parameter in dataset.parameters)
    assert len(node.meter.since(mark)) == 1  # one request brought the whole page's relations

    proposal = page[0].documents[0]
    assert proposal.type == "proposal" and proposal.members
    assert all("@" not in repr(member) for member in proposal.members)  # never an e-mail address
    assert page[0].pid in {dataset.pid for dataset in proposal.datasets()}
    same = commons.dataset(page[0].pid)
    assert same == page[0] and same.parameters == page[0].parameters
    assert same.landing_page.startswith(f"{node.url}/datasets/")
    assert httpx.get(same.landing_page).status_code == 200


def test_documents_and_instruments(node):
    commons = Commons(node.url)
    proposals = list(commons.proposals(text="protein"))
    assert proposals and all(document.type == "proposal" for document in proposals)
    instruments = list(commons.instruments(facility="KNS"))
    assert instruments and {instrument.facility for instrument in instruments} == {"KNS"}
    assert commons.instrument(instruments[0].pid) == instruments[0]
    facets = commons.facets(facility="KNS")
    assert facets["total"] == len(commons.datasets(facility="KNS"))
    assert {entry["value"] for entry in facets["facility"]} == {"KNS"}


def test_to_pandas_has_a_column_per_matched_parameter_in_the_query_unit(node):
    commons = Commons(node.url)
    found = commons.datasets(temperature_below=(300, "K"))
    table = found.to_pandas()
    assert isinstance(table, pandas.DataFrame) and len(table) == len(found) > 0
    assert (table["sample_temperature [K]"] < 300).all()
    in_fahrenheit = commons.datasets(temperature_below=(80.33, "fahrenheit")).to_pandas()  # 300 K
    assert sorted(in_fahrenheit["pid"]) == sorted(table["pid"])
    assert in_fahrenheit["sample_temperature [fahrenheit]"].max() < 80.33
    assert "score" not in table  # no text query: no score worth a column
    assert "score" in commons.datasets(text="lysozyme").to_pandas()
    nothing = commons.datasets(temperature_below=(0, "K")).to_pandas()
    assert nothing.empty and {"pid", "title", "creationDate", "facility"} <= set(nothing.columns)
    assert set(commons.instruments().to_pandas()["facility"]) >= {"NLS", "KNS"}
    detailed = found.to_pandas(details=True).set_index("pid")  # each dataset's complete lists, not what matched
    for dataset in found:
        names = ", ".join(technique.name for technique in dataset.techniques)
        shown = detailed.loc[dataset.pid, "techniques"]
        assert shown == names if names else pandas.isna(shown)
        assert detailed.loc[dataset.pid, "instrument"] == dataset.instrument.name
        wavelength = dataset.parameter("incident_wavelength")
        if wavelength is not None:
            assert detailed.loc[dataset.pid, f"incident_wavelength [{wavelength.unit}]"] == wavelength.value


def test_bad_filters_carry_the_servers_message(node):
    commons = Commons(node.url)
    with pytest.raises(BadFilter, match="unknown unit 'blorfs'") as refused:
        len(commons.datasets(wavelength=(1, 2, "blorfs")))
    assert refused.value.status == 400
    with pytest.raises(BadFilter, match="colour"):
        list(commons.datasets(where={"colour": "blue"}))
    with pytest.raises(BadFilter, match="between"):
        list(commons.datasets(where={"size": {"between": [1]}}))


def test_not_found_not_allowed_and_unreachable(node):
    commons = Commons(node.url)
    with pytest.raises(NotFound, match="pass token="):
        commons.dataset("no/such/dataset")
    with pytest.raises(NotAllowed, match="the token was refused: .*unknown, expired or revoked"):
        Commons(node.url, token="pct_not-a-token").datasets().first()
    with pytest.raises(ProviderUnavailable, match="cannot reach"):
        Commons(f"http://127.0.0.1:{free_port()}").datasets().first()
    with pytest.raises(ValueError, match="not the http"):
        Commons("ftp://example.org")


def test_embargoed_data_needs_the_token(node):
    anonymous = Commons(node.url)
    with pytest.raises(NotFound, match="if it is under embargo, pass token="):
        anonymous.dataset(node.embargoed_pid)
    assert node.embargoed_pid not in {dataset.pid for dataset in anonymous.datasets()}

    curator = Commons(node.url, token=node.token)
    dataset = curator.dataset(node.embargoed_pid)
    assert dataset.is_public is False and dataset.embargo_until > datetime.now(dataset.embargo_until.tzinfo)
    assert node.embargoed_pid in {found.pid for found in curator.datasets(public=False)}
    assert len(curator.datasets()) > len(anonymous.datasets())
    remote = dataset.files[0].open()
    assert remote.keys()  # the viewer's protocol, with the same token


def test_filter_builder_without_a_server():
    built = dataset_filter(technique=["small angle x-ray scattering", "http://purl.org/pan-science/PaNET/PaNET01188"],
                           energy_above=(10, "keV"), year=2021, order="-creationDate", text="  vesicles ")
    assert built.text == "vesicles"
    assert built["order"] == "creationDate DESC"
    assert built["where"] == {"creationDate": {"between": ["2021-01-01T00:00:00Z", "2021-12-31T23:59:59.999Z"]}}
    assert built["include"] == [
        {"relation": "techniques", "scope": {"where": {"or": [
            {"name": "small angle x-ray scattering"}, {"pid": "http://purl.org/pan-science/PaNET/PaNET01188"}]}}},
        {"relation": "parameters", "scope": {"where": {"and": [
            {"name": "incident_photon_energy"}, {"value": {"gt": 10}}, {"unit": "keV"}]}}},
    ]
    for wrong, message in [({"year": "2021"}, "year"), ({"kind": "cooked"}, "kind"), ({"facility": []}, "facility"),
                           ({"technique": ""}, "technique")]:
        with pytest.raises(ValueError, match=message):
            dataset_filter(**wrong)
    with pytest.raises(TypeError, match="'high' is not a number"):
        dataset_filter(pressure_below=("high", "bar"))
    with pytest.raises(TypeError, match="where: expected a JSON object"):
        dataset_filter(where=[{"facility": "NLS"}])
    with pytest.raises(ValueError, match="not a finite number"):
        dataset_filter(temperature=(float("nan"), 300, "K"))
    # LoopBack's shorthands: one relation name; a raw filter's own query, which text= overrides
    assert dataset_filter(include="techniques")["include"] == ["techniques"]
    raw = dataset_filter(filter={"query": "silicon", "where": {"kind": "raw"}})
    assert raw.text == "silicon" and "query" not in raw
    assert dataset_filter(filter={"query": "silicon"}, text="germanium").text == "germanium"
