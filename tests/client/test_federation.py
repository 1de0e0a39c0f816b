"""The client in front of a federation (`pancommons federate`, a real process) of two real nodes:
merged results name their facility node, files are read from that node, a facility that does not
answer is reported, and a node's token never leaves for another address."""

from __future__ import annotations

import sys
import warnings

import httpx
import numpy as np
import pytest

from pancommons.client import (
    BadFilter,
    Commons,
    CommonsError,
    NotFound,
    PartialAnswer,
    ProviderUnavailable,
)
from pancommons.config import Settings
from tests.federation.processes import Process, federation, free_port
from tests.synthetic_node import ingested_catalogue


@pytest.fixture(scope="module")
def second_node(tmp_path_factory):
    """Another facility's node: `pancommons serve` over its own ingested files."""
    home = tmp_path_factory.mktemp("second-node")
    data = home / "data"
    settings = Settings(home=home, data_roots=[data], panet_source="")
    ingested_catalogue(settings, 12, 29, facilities=["KNS"]).dispose()
    port = free_port()
    env = {"PANCOMMONS_HOME": str(home), "PANCOMMONS_DATA_ROOTS": str(data), "PANCOMMONS_PANET_SOURCE": "",
           "PANCOMMONS_CONFIG": str(home / "none.toml")}
    process = Process([sys.executable, "-m", "pancommons.cli", "serve", "--port", str(port)], port, env,
                      "/api/Datasets/count").wait_ready()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def federated(node, second_node):
    process = federation([f"{node.url}/api", second_node.url], 10).wait_ready()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def half_down(node):
    dead = f"http://127.0.0.1:{free_port()}/api"
    process = federation([f"{node.url}/api", dead], 5).wait_ready()
    yield process, dead
    process.stop()


def test_merged_results_name_the_node_that_holds_each_dataset(node, second_node, federated):
    commons = Commons(federated.url)
    found = list(commons.datasets(facility="KNS"))
    providers = {dataset.provider for dataset in found}
    assert providers == {f"{node.url}/api", second_node.url}
    by_node = [httpx.get(f"{url}/Datasets/count", params={"where": '{"facility": "KNS"}'}).json()["count"]
               for url in (f"{node.url}/api", second_node.url)]
    assert len(found) == len(commons.datasets(facility="KNS")) == sum(by_node)
    for dataset in found:  # each record's relations come from its own node
        assert dataset.instrument.facility == "KNS"
        assert dataset.landing_page.startswith(dataset.provider.removesuffix("/api") + "/datasets/")
    assert commons.status()["providers"][0]["url"] == f"{node.url}/api"


def test_files_are_read_and_downloaded_from_the_dataset_node(node, federated, tmp_path):
    commons = Commons(federated.url, token="pct_for-the-federation-only")
    dataset = next(found for found in commons.datasets(wavelength=(0.9, 1.1, "angstrom")) if found.pid == node.cube_pid)
    [file] = dataset.files
    mark = len(node.meter.answers)
    frame = file.open()["/entry/data/data"][1, :, :]
    saved = file.download(tmp_path, progress=False)
    on_node = node.meter.since(mark)
    assert {answer.path for answer in on_node} >= {"/h5grove/meta", "/h5grove/data", f"/files/{file.id}"}
    assert not any(answer.authorized for answer in on_node)  # the federation's token stays with the federation
    assert saved.read_bytes() == node.cube_path.read_bytes() and frame.shape == (512, 512)
    assert np.isfinite(frame).all()


def test_a_facility_that_does_not_answer_is_reported(half_down):
    process, dead = half_down
    with pytest.warns(PartialAnswer, match=dead):
        found = list(Commons(process.url).datasets(limit=5))
    assert len(found) == 5
    with pytest.raises(ProviderUnavailable, match="without some facilities") as refused:
        list(Commons(process.url, strict=True).datasets(limit=5))
    assert dead in refused.value.providers["failed"] or dead in refused.value.providers.get("skipped", {})
    status = Commons(process.url).status()
    assert {provider["url"]: provider["state"] for provider in status["providers"]}[dead] != "healthy"


def test_no_facility_answering_is_provider_unavailable():
    process = federation([f"http://127.0.0.1:{free_port()}/api"], 2).wait_ready()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an error, not a warning and an empty list
            with pytest.raises(ProviderUnavailable, match="HTTP 503") as refused:
                Commons(process.url).datasets().first()
        assert refused.value.status == 503 and refused.value.providers
    finally:
        process.stop()


def test_refusals_through_the_federation(federated):
    commons = Commons(federated.url)
    with pytest.raises(BadFilter, match="blorfs"):
        list(commons.datasets(wavelength=(1, 2, "blorfs")))
    with pytest.raises(NotFound):
        commons.dataset("no/such/dataset")


def test_every_search_works_through_the_federation(node, second_node, federated, tmp_path):
    commons = Commons(federated.url)
    proposals = list(commons.proposals(limit=40))
    assert {document.provider for document in proposals} == {f"{node.url}/api", second_node.url}
    assert proposals[0].members and proposals[0].datasets().first() is not None
    assert {instrument.facility for instrument in commons.instruments()} >= {"NLS", "KNS"}
    assert commons.facets(facility="KNS")["total"] == len(commons.datasets(facility="KNS"))
    table = commons.datasets(facility="KNS").to_pandas()
    assert set(table["provider"]) == {f"{node.url}/api", second_node.url}
    from_second = next(dataset for dataset in commons.datasets(facility="KNS") if dataset.provider == second_node.url)
    saved = from_second.download(tmp_path, progress=False)
    direct = Commons(second_node.url).dataset(from_second.pid)
    assert [path.stat().st_size for path in saved] == [file.size for file in direct.files]
    with pytest.raises(CommonsError, match="federation serves no files"):
        commons.open(1)
