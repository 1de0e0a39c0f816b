"""The h5grove endpoints over catalogued files: the protocol's answers, the access policy, the data root.

Real HDF5 written with h5py, ingested; links and virtual datasets built to
try to read outside the data root; the beamline file compressed with
bitshuffle/LZ4 from ../shared."""

from __future__ import annotations

import os
import shutil

import h5py
import numpy as np
import pytest
from sqlalchemy import select, update

from pancommons.db import tables as t
from pancommons.ingest.pipeline import ingest
from pancommons.nexus.browse import OpenFiles
from tests.api.conftest import api_client
from tests.conftest import shared_nexus


def _nexus(path, image: np.ndarray, **links):
    with h5py.File(path, "w") as f:
        f.attrs["default"] = "entry"
        entry = f.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        entry.attrs["default"] = "data"
        entry["title"] = "viewer test"
        entry["start_time"] = "2020-01-01T00:00:00Z"
        data = entry.create_group("data")
        data.attrs["NX_class"] = "NXdata"
        data.attrs["signal"] = "image"
        data.create_dataset("image", data=image, chunks=(8, 8), compression="gzip")
        for name, link in links.items():
            entry[name] = link


@pytest.fixture
def viewer(settings, engine, data_root, tmp_path):
    image = np.arange(64 * 48, dtype=np.float32).reshape(64, 48)
    outside = tmp_path / "outside.h5"
    with h5py.File(outside, "w") as f:
        f["secret"] = np.full(4, 42.0)
    _nexus(data_root / "neighbour.nxs", np.zeros((8, 8), dtype=np.float32))  # a catalogued file of its own
    with h5py.File(data_root / "neighbour.nxs", "a") as f:
        f["shared"] = np.arange(5)
    _nexus(data_root / "stray.h5", np.zeros((8, 8), dtype=np.float32))  # in the data root, never catalogued
    _nexus(data_root / "scan.nxs", image,
           neighbour=h5py.ExternalLink("neighbour.nxs", "/shared"),
           stray=h5py.ExternalLink("stray.h5", "/entry/data/image"),
           escape=h5py.ExternalLink(str(outside), "/secret"),
           climb=h5py.ExternalLink("../outside.h5", "/secret"),
           alias=h5py.SoftLink("/entry/escape"))
    with h5py.File(data_root / "virtual.nxs", "w") as f:
        entry = f.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        entry["title"] = "virtual"
        for name, source, member, size in (("stolen", str(outside), "secret", 4), ("borrowed", "neighbour.nxs", "shared", 5)):
            layout = h5py.VirtualLayout(shape=(size,), dtype="f8")
            layout[:] = h5py.VirtualSource(source, member, shape=(size,))
            entry.create_virtual_dataset(name, layout)
        entry.create_dataset("passwd", shape=(16,), dtype="u1", external=[("/etc/passwd", 0, 16)])
    report = ingest([str(data_root / name) for name in ("scan.nxs", "virtual.nxs", "neighbour.nxs")],
                    settings, engine, workers=1)
    assert not report.failed
    with engine.begin() as connection:
        connection.execute(update(t.Dataset).values(is_public=True))
        ids = dict(connection.execute(select(t.DataFile.path, t.DataFile.id)).all())
    with api_client(settings, None) as client:
        yield client, ids, image


def _get(client, endpoint, **params):
    return client.get(f"/h5grove/{endpoint}", params=params)


def test_meta_attr_paths_and_data_speak_h5grove(viewer):
    client, ids, image = viewer
    file = ids["scan.nxs"]
    group = _get(client, "meta", file=file, path="/entry/data").json()
    assert group["kind"] == "group" and [c["name"] for c in group["children"]] == ["image"]
    assert group["children"][0]["shape"] == [64, 48] and group["children"][0]["filters"][0]["name"] == "deflate"
    assert _get(client, "attr", file=file, path="/entry/data").json() == {"NX_class": "NXdata", "signal": "image"}
    assert "/entry/data/image" in _get(client, "paths", file=file).json()
    whole = _get(client, "data", file=file, path="/entry/data/image", format="bin", dtype="safe")
    assert whole.status_code == 200 and whole.content == image.tobytes()
    frame = _get(client, "data", file=file, path="/entry/data/image", selection="3:5,::2", format="bin")
    assert frame.content == image[3:5, ::2].tobytes()
    assert _get(client, "data", file=file, path="/entry/data/image", selection="7", format="json").json() == image[7].tolist()
    stats = _get(client, "stats", file=file, path="/entry/data/image").json()
    assert (stats["min"], stats["max"]) == (0, float(image.max()))


def test_links_are_followed_only_into_files_the_caller_may_read(viewer, engine):
    client, ids, _ = viewer
    file = ids["scan.nxs"]
    inside = _get(client, "data", file=file, path="/entry/neighbour", format="json")
    assert inside.status_code == 200 and inside.json() == [0, 1, 2, 3, 4]
    borrowed = _get(client, "data", file=ids["virtual.nxs"], path="/entry/borrowed", format="json")
    assert borrowed.status_code == 200 and borrowed.json()[:4] == [0, 1, 2, 3]
    # outside the root (absolute, ../, a soft link to one), or an uncatalogued file inside it
    for path in ("/entry/escape", "/entry/climb", "/entry/alias", "/entry/stray"):
        for endpoint in ("meta", "data", "attr"):
            answer = _get(client, endpoint, file=file, path=path)
            assert answer.status_code == 404, (endpoint, path)
            assert "42" not in answer.text and "not open to you" in answer.json()["message"]
    listed = _get(client, "meta", file=file, path="/entry").json()["children"]
    escape = next(child for child in listed if child["name"] == "escape")
    assert escape["kind"] == "external_link"  # shown as a link, never opened
    for path, words in (("/entry/stolen", "outside this data root"), ("/entry/passwd", "stored outside the HDF5 file")):
        answer = _get(client, "data", file=ids["virtual.nxs"], path=path, format="bin")
        assert answer.status_code == 404 and words in answer.json()["message"] and b"root:" not in answer.content
    # the neighbour goes under embargo: a public file's link or virtual dataset must not read it
    with engine.begin() as connection:
        neighbour = connection.execute(select(t.DatasetFile.dataset_id).where(
            t.DatasetFile.file_id == ids["neighbour.nxs"])).scalars().all()
        connection.execute(update(t.Dataset).where(t.Dataset.id.in_(neighbour)).values(is_public=False, embargo_until=None))
    assert _get(client, "data", file=file, path="/entry/neighbour", format="json").status_code == 404
    assert _get(client, "data", file=ids["virtual.nxs"], path="/entry/borrowed", format="json").status_code == 404


@pytest.mark.parametrize("params, status, words", [
    ({"path": "/entry/nothing"}, 404, "not a valid path"),
    ({"path": "/entry/data/image", "selection": "99,0"}, 422, "out of range"),
    ({"path": "/entry/data/image", "selection": "1:x"}, 422, "invalid literal"),
    ({"path": "/entry/data/image", "selection": "1,2,3"}, 422, "too many members"),
    ({"path": "/entry/data/image", "format": "exe"}, 422, "format"),
    ({"path": "/entry/../entry"}, 404, "'..'"),
    ({"path": "/entry\x00"}, 404, "cannot read"),
])
def test_bad_paths_and_selections(viewer, params, status, words):
    client, ids, _ = viewer
    endpoint = "data" if "selection" in params or "format" in params else "meta"
    answer = _get(client, endpoint, file=ids["scan.nxs"], **params)
    assert answer.status_code == status and words in answer.json()["message"]


def test_files_are_named_by_catalogue_id_and_follow_the_policy(viewer, engine):
    client, ids, _ = viewer
    for file in ("../../etc/passwd", "/etc/passwd", "scan.nxs", "-1", "scan.nxs/1"):
        assert _get(client, "meta", file=file).status_code == 422
    # The viewer sends "<id>/<file name>" so that H5Web shows the name: only the id is read,
    # whatever follows it, which is never taken for a path.
    plain = _get(client, "attr", file=ids["scan.nxs"], path="/entry/data")
    assert plain.status_code == 200 and plain.json()["NX_class"] == "NXdata"
    for named in (f"{ids['scan.nxs']}/scan.nxs", f"{ids['scan.nxs']}/../../../etc/passwd", f"{ids['scan.nxs']}/virtual.nxs"):
        assert _get(client, "attr", file=named, path="/entry/data").json() == plain.json(), named
    with engine.begin() as connection:
        connection.execute(update(t.Dataset).values(is_public=False, embargo_until=None))
    assert _get(client, "meta", file=f"{ids['scan.nxs']}/scan.nxs").status_code == 404
    hidden = _get(client, "meta", file=ids["scan.nxs"])
    missing = _get(client, "meta", file="99999999")
    # an embargoed file answers exactly as one that does not exist
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["message"].replace(str(ids["scan.nxs"]), "N") == missing.json()["message"].replace("99999999", "N")


def test_open_files_are_reused_until_the_file_changes_and_never_closed_under_a_reader(tmp_path):
    path = tmp_path / "a.h5"
    with h5py.File(path, "w") as f:
        f["x"] = [1]
    files = OpenFiles(capacity=1)
    with files.session() as first_request:
        first = first_request.open(path)
        with files.session() as second_request:
            assert second_request.open(path) is first  # one open for both
        with h5py.File(tmp_path / "new.h5", "w") as f:  # the beamline writes a new version and renames it in place
            f["x"] = [1, 2, 3]
        os.replace(tmp_path / "new.h5", path)
        with files.session() as later:
            again = later.open(path)
            assert again is not first and again["x"].shape == (3,)
            with h5py.File(tmp_path / "b.h5", "w") as f:
                f["x"] = [0]
            later.open(tmp_path / "b.h5")  # over capacity: the others are retired …
        assert first.id.valid and first["x"][()].tolist() == [1]  # … but not closed while the first request reads
    assert not first.id.valid and not again.id.valid  # closed once their last reader is done
    files.close_all()


def test_concurrent_readers_while_files_churn(tmp_path):
    """Readers in threads, while another thread opens other files past the capacity: no read fails."""
    import threading

    paths = []
    for number in range(6):
        paths.append(tmp_path / f"{number}.h5")
        with h5py.File(paths[-1], "w") as f:
            f["x"] = np.arange(1000)
    files = OpenFiles(capacity=2)
    failures: list[str] = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            try:
                with files.session() as session:
                    assert session.open(paths[0])["x"][()].sum() == 499500
            except Exception as error:  # noqa: BLE001 - collected, asserted below
                failures.append(repr(error))

    def churner():
        while not stop.is_set():
            for path in paths[1:]:
                with files.session() as session:
                    session.open(path)

    threads = [threading.Thread(target=reader) for _ in range(3)] + [threading.Thread(target=churner)]
    for thread in threads:
        thread.start()
    stop.wait(1.5)
    stop.set()
    for thread in threads:
        thread.join()
    files.close_all()
    assert failures == []


def test_the_beamlines_bitshuffle_lz4_file_reads(settings, engine, data_root):
    source = shared_nexus("S2p5min_00070_00001.h5")
    shutil.copy(source, data_root / source.name)
    assert not ingest([str(data_root)], settings, engine, workers=1).failed
    with engine.begin() as connection:
        connection.execute(update(t.Dataset).values(is_public=True))
        file = connection.execute(select(t.DataFile.id)).scalar_one()
        arrays = connection.execute(select(t.DataFile.arrays)).scalar_one()
    compressed = next(a for a in arrays if any("bitshuffle" in str(f).lower() or "lz4" in str(f).lower()
                                                for f in a.get("filters", [])) and len(a["shape"]) >= 2)
    with h5py.File(data_root / source.name, "r") as f:
        expected = f[compressed["path"]][(0,) * (len(compressed["shape"]) - 2)]
    selection = ",".join(["0"] * (len(compressed["shape"]) - 2) + [":", ":"])
    with api_client(settings, None) as client:
        answer = _get(client, "data", file=file, path=compressed["path"], selection=selection, format="bin", dtype="origin")
    assert answer.status_code == 200 and answer.content == np.ascontiguousarray(expected).tobytes()
