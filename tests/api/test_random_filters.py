"""Random valid filters (hypothesis): never a 5xx, and SQLite and PostgreSQL give the same answers."""

from __future__ import annotations

import json
import random
from contextlib import ExitStack

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from pancommons.config import Settings
from pancommons.db.engine import make_engine
from pancommons.db.migrate import upgrade
from pancommons.ingest.panosc_import import import_panosc
from tests.api.conftest import api_client, write_dump

PANET = "http://purl.org/pan-science/PaNET/"
TECHNIQUES = [
    ("t/xrpd", "x-ray powder diffraction", "PaNET01102"),
    ("t/saxs", "small angle x-ray scattering", "PaNET01188"),
    ("t/sans", "small angle neutron scattering", "PaNET01189"),
    ("t/exafs", "extended x-ray absorption fine structure", "PaNET01196"),
    ("t/mx", "macromolecular crystallography", "PaNET01164"),
]
WORDS = ["lysozyme", "copper", "ferritin", "zeolite", "vesicles", "powder", "thin", "film", "crystal", "Ünïcode"]
UNITS = {"incident_wavelength": ["angstrom", "nm"], "sample_temperature": ["K", "celsius"],
         "incident_photon_energy": ["eV", "keV"], "sample_pressure": ["Pa", "bar"]}


def _catalogue_dump(path):
    """A small catalogue with every relation, the same for both backends (seeded)."""
    rng = random.Random(11)
    datasets, parameters, links, samples, files, documents, doc_links = [], [], [], [], [], [], []
    for number in range(40):
        pid = f"10.1/ds{number:02d}"
        title = " ".join(rng.sample(WORDS, 3)) + f" {number}"
        datasets.append({"pid": pid, "title": title, "isPublic": rng.random() < 0.9,
                         "creationDate": f"20{rng.randint(15, 25)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T10:00:00Z",
                         "size": rng.randint(0, 10**6)})
        for name, units in UNITS.items():
            if rng.random() < 0.6:
                parameters.append({"id": len(parameters) + 1, "name": name, "value": round(rng.uniform(0.5, 400), 3),
                                   "unit": rng.choice(units), "datasetId": pid})
        parameters.append({"id": len(parameters) + 1, "name": "sample_state", "value": rng.choice(["solid", "liquid"]),
                           "unit": "", "datasetId": pid})
        for technique in rng.sample(TECHNIQUES, rng.randint(0, 2)):
            links.append({"id": len(links) + 1, "datasetId": pid, "techniqueId": technique[0]})
        samples.append({"id": len(samples) + 1, "datasetId": pid, "sampleId": f"s/{number % 7}"})
        files.append({"id": number + 1, "name": f"file{number}.nxs", "size": rng.randint(1, 999), "datasetId": pid})
        doc_links.append({"id": number + 1, "datasetId": pid, "documentId": f"doc/{number % 6}"})
    for number in range(6):
        documents.append({"pid": f"doc/{number}", "isPublic": number != 5, "type": "proposal",
                          "title": " ".join(rng.sample(WORDS, 2)), "summary": "a study of " + rng.choice(WORDS)})
    return write_dump(
        path, Dataset=datasets, Parameter=parameters, DatasetTechnique=links, DatasetSample=samples, File=files,
        Document=documents, DocumentDataset=doc_links,
        Technique=[{"pid": pid, "name": name, "panetId": PANET + iri} for pid, name, iri in TECHNIQUES],
        Sample=[{"pid": f"s/{n}", "name": f"{WORDS[n]} sample", "description": "pellet" if n % 2 else None}
                for n in range(7)],
    )


@pytest.fixture(scope="module")
def two_backends(tmp_path_factory, postgres_server, ontology):
    home = tmp_path_factory.mktemp("random-filters")
    dump = _catalogue_dump(home / "dump.json")
    with ExitStack() as stack:
        clients = []
        for url in (f"sqlite:///{home / 'catalogue.db'}", postgres_server()):
            engine = make_engine(url)
            upgrade(engine)
            assert not import_panosc(dump, engine).problems
            engine.dispose()
            clients.append(stack.enter_context(api_client(Settings(home=home, database_url=url, panet_source=""), ontology)))
        yield clients


def _value(field):
    return {
        "pid": st.sampled_from(["10.1/ds01", "10.1/ds17", "nope"]),
        "title": st.sampled_from(WORDS + ["%copper%", "%", "_"]),
        "size": st.integers(0, 10**6),
        "creationDate": st.sampled_from(["2018-01-01T00:00:00Z", "2021-06-30", "2024-12-31T23:59:59+02:00"]),
        "isPublic": st.booleans(),
    }[field]


@st.composite
def dataset_conditions(draw, depth=0):
    kind = draw(st.sampled_from(["field", "field", "text", "and", "or"] if depth < 2 else ["field", "text"]))
    if kind == "text":
        return {"text": draw(st.sampled_from(WORDS + ["1", "ds", ""]))}
    if kind in ("and", "or"):
        return {kind: draw(st.lists(dataset_conditions(depth + 1), min_size=1, max_size=3))}
    field = draw(st.sampled_from(["pid", "title", "size", "creationDate", "isPublic"]))
    if field == "isPublic":
        op = draw(st.sampled_from(["eq", "neq"]))
    elif field in ("size", "creationDate"):
        op = draw(st.sampled_from(["eq", "neq", "gt", "gte", "lt", "lte", "between", "inq", "nin"]))
    else:
        op = draw(st.sampled_from(["eq", "neq", "inq", "nin", "like", "nlike", "ilike", "nilike", "regexp", "gt"]))
    if op == "between":
        return {field: {op: sorted(draw(st.lists(_value(field), min_size=2, max_size=2)))}}
    if op in ("inq", "nin"):
        return {field: {op: draw(st.lists(_value(field), max_size=3))}}
    if op == "regexp":
        return {field: {op: draw(st.sampled_from(["^copper", "/CRYSTAL/i", "[0-9]$", "film|powder"]))}}
    return {field: {op: draw(_value(field))}}


parameter_scopes = st.one_of(
    st.builds(
        lambda name, op, low, width, unit: {"and": [{"name": name},
                                                    {"value": {op: [low, low + width]} if op == "between" else {op: low}},
                                                    {"unit": unit}]},
        st.sampled_from(list(UNITS)), st.sampled_from(["between", "lt", "gte"]),
        st.floats(-300, 500, allow_nan=False).map(lambda x: round(x, 2)), st.floats(0, 300).map(lambda x: round(x, 2)),
        st.sampled_from(["nm", "angstrom", "K", "celsius", "fahrenheit", "eV", "keV", "J", "bar", "Pa", "m"]),
    ),
    st.builds(lambda value: {"and": [{"name": "sample_state"}, {"value": value}]}, st.sampled_from(["solid", "liquid"])),
)
technique_scopes = st.builds(
    lambda key, value, op: {key: {op: [value] if op in ("inq", "nin") else value}},
    st.sampled_from(["name", "pid"]),
    st.sampled_from(["x-ray diffraction", "small angle scattering-based techniques", "t/saxs", PANET + "PaNET01196",
                     "x-ray absorption spectroscopy"]),
    st.sampled_from(["eq", "neq", "inq", "nin"]),
)
includes = st.lists(
    st.one_of(
        st.sampled_from(["techniques", "samples", "files", "documents", "instrument"]),
        st.builds(lambda where, limit: {"relation": "parameters", "scope": {"where": where, **limit}},
                  parameter_scopes, st.sampled_from([{}, {"limit": 1}])),
        st.builds(lambda where: {"relation": "techniques", "scope": {"where": where}}, technique_scopes),
        st.builds(lambda where: {"relation": "samples", "scope": {"where": where}},
                  st.sampled_from([{"text": "copper"}, {"name": {"like": "%e%"}}, {"description": None}])),
    ),
    max_size=3,
)
filters = st.fixed_dictionaries(
    {},
    optional={
        "where": dataset_conditions(),
        "include": includes,
        "limit": st.integers(1, 50),
        "skip": st.integers(0, 45),
        "order": st.sampled_from(["title ASC", "title DESC", "size DESC", "creationDate ASC", ["size ASC", "title DESC"]]),
        "query": st.sampled_from(["copper", "lysozyme crystal", "film 7", "nothingmatches"]),
        "fields": st.sampled_from([["pid", "title"], {"size": False}]),
    },
)


def _comparable(body):
    """Scores are floats computed by two databases: equal to 9 digits is equal."""
    text = json.dumps(body, sort_keys=True)
    return json.loads(text, parse_float=lambda number: round(float(number), 9))


@given(filter=filters)
@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_filters_agree_across_backends_and_never_fail(two_backends, filter):
    sqlite, postgresql = two_backends
    encoded = {"filter": json.dumps(filter)}
    answers = []
    for client in (sqlite, postgresql):
        response = client.get("/api/Datasets", params=encoded)
        assert response.status_code == 200, (filter, response.text)
        answers.append(_comparable(response.json()))
    assert answers[0] == answers[1], filter
    counts = [client.get("/api/Datasets/count", params={"where": json.dumps(filter.get("where", {}))}).json()
              for client in (sqlite, postgresql)]
    assert counts[0] == counts[1]
    facets = [client.get("/api/Datasets/facets", params={"filter": json.dumps(
        {key: filter[key] for key in ("where", "include", "query") if key in filter})}) for client in (sqlite, postgresql)]
    assert facets[0].status_code == facets[1].status_code == 200
    assert facets[0].json() == facets[1].json()
