"""Remote HDF5 through the h5grove protocol: browsing, attributes, slices equal to h5py's own read,
and only the slice travels (measured at the server)."""

from __future__ import annotations

import h5py
import hdf5plugin  # noqa: F401  (the cube is bitshuffle/LZ4)
import numpy as np
import pytest

from pancommons.client import Commons, NotFound, RemoteDataset, RemoteGroup
from tests.client.conftest import CUBE_SHAPE


@pytest.fixture
def cube(node):
    dataset = Commons(node.url).dataset(node.cube_pid)
    [file] = dataset.files
    return file


def test_browse_groups_and_attributes(node, cube):
    remote = cube.open()
    assert remote.keys() == ["entry"] and remote.attrs["default"] == "entry"
    entry = remote["entry"]
    assert isinstance(entry, RemoteGroup) and entry.attrs["NX_class"] == "NXentry"
    with h5py.File(node.cube_path, "r", locking=False) as local:  # the server in this process holds it open
        assert sorted(entry.keys()) == sorted(local["entry"].keys())
        assert set(remote.paths()) == {"/"} | {f"/{name}" for name in _visit(local)}
    assert "data" in entry and "nothing" not in entry
    assert remote["/entry/data"].attrs["axes"] == [".", "y", "x"]
    with pytest.raises(KeyError, match="not a valid path"):
        remote["/entry/nothing"]
    assert remote["entry/title"][()] == "Detector stack for the client"  # text as str, not bytes


def _visit(local: h5py.File) -> list[str]:
    found: list[str] = []
    local.visit(found.append)
    return found


def test_slices_equal_h5pys_own_read(node, cube):
    remote = cube.open()
    stack = remote["/entry/data/data"]
    assert isinstance(stack, RemoteDataset) and stack.shape == CUBE_SHAPE and stack.dtype == np.float32
    with h5py.File(node.cube_path, "r", locking=False) as local:  # the server in this process holds it open
        frames = local["/entry/data/data"]
        for key in [(3, slice(None), slice(None)), (-1,), (slice(1, 7, 2), slice(10, 20), 5), (Ellipsis, 511),
                    (0, slice(500, None), slice(None, None, 64)), 2]:
            got = stack[key]
            np.testing.assert_array_equal(got, frames[key])
            assert got.dtype == frames.dtype and got.flags.writeable
        y = remote["/entry/data/y"]
        assert y.dtype == np.dtype(">f8")  # kept as the file stores it: the bytes decode right
        np.testing.assert_array_equal(y[10:20], local["/entry/data/y"][10:20])
        np.testing.assert_array_equal(np.asarray(remote["/entry/data/x"]), local["/entry/data/x"][()])
        assert remote["/entry/monitor_counts"][()] == local["/entry/monitor_counts"][()] == 123456789
        motors = remote["/entry/motors"]
        assert motors.dtype.names == ("index", "position")  # a compound keeps its fields and their types
        np.testing.assert_array_equal(motors[()], local["/entry/motors"][()])
        assert motors[1]["position"] == -4.0 and motors[0:1].dtype == local["/entry/motors"].dtype
        assert remote["/entry/no_value"].empty and remote["/entry/no_value"][()] is None
    assert stack[0, 0:0].shape == (0, 512)  # an empty selection asks nothing


def test_indexing_refused_clearly(cube):
    stack = cube.open()["/entry/data/data"]
    with pytest.raises(IndexError, match="out of range for axis 0 of size 8"):
        stack[8]
    with pytest.raises(IndexError, match="too many indices"):
        stack[0, 0, 0, 0]
    with pytest.raises(ValueError, match="positive step"):
        stack[::-1]
    with pytest.raises(TypeError, match="integers, slices and '...'"):
        stack[[0, 2]]


def test_the_default_plot_of_the_nexus_file(cube):
    plot = cube.open().default_plot()
    assert plot.group.name == "/entry/data" and plot.signal.name == "/entry/data/data"
    assert plot.axes[0] is None and [axis.name for axis in plot.axes[1:]] == ["/entry/data/y", "/entry/data/x"]
    assert plot.title == "Detector stack for the client"


def test_a_slice_transfers_little_more_than_its_bytes(node, cube):
    """512 × 512 float32 of a 3-D stack: everything the server sent, metadata included, ≤ 1.1× the slice."""
    mark = len(node.meter.answers)
    frame = cube.open()["/entry/data/data"][5, :, :]
    sent = node.meter.since(mark)
    assert frame.shape == (512, 512)
    total = sum(answer.bytes for answer in sent)
    assert total <= 1.1 * frame.nbytes, [(answer.path, answer.bytes) for answer in sent]
    [data] = [answer for answer in sent if answer.path == "/h5grove/data"]
    assert "format=bin" in data.query and data.bytes - frame.nbytes < 1024  # the raw bytes, no encoding around them


def test_a_file_the_caller_may_not_read_is_not_found(node):
    curator = Commons(node.url, token=node.token)
    [file] = curator.dataset(node.embargoed_pid).files
    assert curator.open(file.id).keys() == file.open().keys()
    with pytest.raises(NotFound, match="pass token="):
        Commons(node.url).open(file.id).keys()  # the same file, asked for without the token


def test_a_groups_listing_describes_its_datasets_without_more_requests(node, cube):
    data = cube.open()["/entry/data"]
    mark = len(node.meter.answers)
    described = {name: (data[name].shape, data[name].dtype.str) for name in data}
    assert described == {"data": (CUBE_SHAPE, "<f4"), "y": ((512,), ">f8"), "x": ((512,), "<i2")}
    assert node.meter.since(mark) == []


def test_a_plot_without_axes_has_one_none_per_dimension(node):
    commons = Commons(node.url)
    raw_saxs = commons.datasets(technique="small angle x-ray scattering", kind="raw").first()
    plot = raw_saxs.files[0].open().default_plot()
    assert plot.signal.ndim == 2 and plot.axes == [None, None]
    assert plot.title == raw_saxs.title
