"""The API over a catalogue filled by ingestion: the text index follows every change."""

from __future__ import annotations

import json

from pancommons.ingest.pipeline import ingest
from pancommons.ingest.proposals import import_proposals
from tests import nexus_files as nx
from tests.api.conftest import api_client, get

PROPOSALS = {"facility": "TESTFAC", "proposals": [{
    "proposal_number": "P-2020-001", "title": "Cryo-structures of hen egg-white enzyme",
    "abstract": "Radiation damage in protein crystals", "start_date": "2020-05-01", "end_date": "2020-05-03",
    "keywords": ["crystallography"],
    "members": [{"name": "Ada Lovelace", "role": "principal investigator", "email": "ada@example.org"}],
}]}


def pids(client, **arguments) -> set[str]:
    status, datasets = get(client, "/api/Datasets", **arguments)
    assert status == 200, datasets
    return {d["pid"] for d in datasets}


def test_ingested_files_are_found_by_their_words_and_follow_changes(settings, engine, data_root, ontology, tmp_path):
    files = [nx.write_nexus(data_root / f"run_{i}.nxs", title=f"Lysozyme crystal {i}") for i in range(3)]
    nx.write_nexus(data_root / "spheres.nxs", title="Silica spheres", definition="NXsas", sample="silica",
                   formula="SiO2", wavelength=(0.1, "nm"), temperature=(25.0, "degC"), proposal="P-2021-002")
    ingest([str(data_root)], settings, engine, workers=1)
    with api_client(settings, ontology) as client:
        assert len(pids(client, query="lysozyme")) == 3
        assert len(pids(client, query="SiO2")) == 1  # the sample's formula
        assert len(pids(client, filter={"query": "Ada"})) == 0

        proposals = tmp_path / "proposals.json"
        proposals.write_text(json.dumps(PROPOSALS), encoding="utf-8")
        import_proposals(proposals, settings, engine)
        # the proposal's words (title, abstract, keywords, members) now find its datasets ...
        assert len(pids(client, query="enzyme")) == 3
        assert len(pids(client, query="Lovelace")) == 3
        # ... and the proposal is found by its datasets' titles
        _, documents = get(client, "/api/Documents", query="lysozyme")
        assert [d["title"] for d in documents] == ["Cryo-structures of hen egg-white enzyme"]
        assert "ada@example.org" not in json.dumps(get(client, "/api/Documents", filter={
            "include": [{"relation": "members", "scope": {"include": ["person"]}}]})[1])

        nx.write_nexus(files[0], title="Thaumatin crystal 0", sample="thaumatin")
        nx.touch_later(files[0])
        ingest([str(data_root)], settings, engine, workers=1)
        assert len(pids(client, query="lysozyme")) == 2
        assert len(pids(client, query="thaumatin")) == 1

        _, in_nm = get(client, "/api/Datasets", filter={"include": [{"relation": "parameters", "scope": {"where": {
            "and": [{"name": "incident_wavelength"}, {"value": {"between": [0.095, 0.1]}}, {"unit": "nm"}]}}}]})
        assert sorted((d["title"], d["parameters"][0]["value"]) for d in in_nm) == [
            ("Lysozyme crystal 1", 0.098), ("Lysozyme crystal 2", 0.098), ("Silica spheres", 0.1), ("Thaumatin crystal 0", 0.098)]


def test_openapi_documents_every_endpoint_with_example_filters(reference_api):
    schema = reference_api.get("/openapi.json").json()
    paths = schema["paths"]
    for collection in ("Datasets", "Documents", "Instruments"):
        assert f"/api/{collection}" in paths and f"/api/{collection}/count" in paths and f"/api/{collection}/{{pid}}" in paths
    assert "/api/Datasets/{pid}/files" in paths and "/api/Datasets/facets" in paths
    listing = paths["/api/Datasets"]["get"]["parameters"]
    examples = next(p for p in listing if p["name"] == "filter")["examples"]
    for example in examples.values():  # every documented example is a filter the API accepts
        status, _ = get(reference_api, "/api/Datasets", filter=example["value"])
        assert status == 200, example
