"""Downloads: the bytes are the file's, a broken connection is resumed with Range, the checksum
the node catalogued (Repr-Digest) is verified, and a good local copy is never overwritten."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import threading
import warnings
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from pancommons.client import (
    ChecksumMismatch,
    Commons,
    CommonsError,
    DownloadInterrupted,
    File,
    LocalCopyDiffers,
    UnverifiedDownload,
)
from pancommons.client.download import inside, parse_digest
from pancommons.db import tables as t


class CuttingProxy:
    """A TCP proxy in front of the node that breaks the first ``cuts`` connections after ``after``
    bytes from the server: a network that drops in the middle of a download."""

    def __init__(self, target_port: int, after: int, cuts: int):
        self.target_port, self.after, self.cuts = target_port, after, cuts
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.threads: list[threading.Thread] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            cut = self.cuts > 0
            self.cuts -= cut
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for source, sink, limit in ((client, upstream, None), (upstream, client, self.after if cut else None)):
                thread = threading.Thread(target=self._pump, args=(source, sink, limit), daemon=True)
                thread.start()
                self.threads.append(thread)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while chunk := source.recv(65536):
                if limit is not None and sent + len(chunk) > limit:
                    sink.sendall(chunk[:limit - sent])
                    break
                sink.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def cube(node):
    [file] = Commons(node.url).dataset(node.cube_pid).files
    return file


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_node_sends_the_catalogued_checksum_with_every_answer(node, cube):
    expected = "sha-256=:" + base64.b64encode(hashlib.sha256(node.cube_path.read_bytes()).digest()).decode() + ":"
    whole = httpx.get(cube.url)
    assert whole.headers["repr-digest"] == expected
    assert httpx.head(cube.url).headers["repr-digest"] == expected
    part = httpx.get(cube.url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.headers["repr-digest"] == expected  # of the whole file, even for a range
    assert parse_digest(expected) == ("sha256", hashlib.sha256(node.cube_path.read_bytes()).digest())


def test_download_a_file_and_keep_a_good_copy(node, cube, tmp_path):
    saved = cube.download(tmp_path, progress=True)
    assert saved == tmp_path / "stack_0001.nxs" and saved.read_bytes() == node.cube_path.read_bytes()
    assert not list(tmp_path.glob("*.part*"))

    before = saved.stat().st_mtime_ns
    mark = len(node.meter.answers)
    assert cube.download(tmp_path, progress=False) == saved
    assert saved.stat().st_mtime_ns == before
    assert [answer.status for answer in node.meter.since(mark)] == [200]  # one HEAD; no byte fetched again
    assert cube.download(tmp_path / "renamed.nxs", progress=False).read_bytes() == saved.read_bytes()


def test_a_different_local_file_is_left_alone_unless_told(node, cube, tmp_path):
    mine = tmp_path / "stack_0001.nxs"
    mine.write_bytes(b"my own notes, not the detector stack")
    with pytest.raises(LocalCopyDiffers, match="left alone"):
        cube.download(tmp_path, progress=False)
    assert mine.read_bytes() == b"my own notes, not the detector stack"
    cube.download(tmp_path, progress=False, overwrite=True)
    assert _sha256(mine) == _sha256(node.cube_path)


def test_an_interrupted_download_resumes_and_is_verified(node, cube, tmp_path):
    port = int(node.url.rsplit(":", 1)[1])
    proxy = CuttingProxy(port, after=3_000_000, cuts=1)
    try:
        [file] = Commons(f"http://127.0.0.1:{proxy.port}").dataset(node.cube_pid).files
        with pytest.raises(DownloadInterrupted, match="resumes from there") as broken:
            file.download(tmp_path, progress=False, retries=0)
        part = tmp_path / "stack_0001.nxs.part"
        assert not (tmp_path / "stack_0001.nxs").exists() and broken.value.url == file.url
        kept = part.stat().st_size
        assert 1_000_000 < kept < cube.size
        assert part.read_bytes() == node.cube_path.read_bytes()[:kept]

        mark = len(node.meter.answers)
        saved = file.download(tmp_path, progress=False)  # the network is back: only the rest travels
        resumed = [answer for answer in node.meter.since(mark) if answer.range]
        assert [answer.range for answer in resumed] == [f"bytes={kept}-"] and resumed[0].status == 206
        assert resumed[0].bytes < cube.size - kept + 1024
        assert saved.read_bytes() == node.cube_path.read_bytes() and not part.exists()
    finally:
        proxy.close()


def test_a_broken_connection_is_retried_within_one_call(node, tmp_path):
    port = int(node.url.rsplit(":", 1)[1])
    proxy = CuttingProxy(port, after=2_000_000, cuts=2)
    try:
        [file] = Commons(f"http://127.0.0.1:{proxy.port}").dataset(node.cube_pid).files
        mark = len(node.meter.answers)
        saved = file.download(tmp_path, progress=False, retries=3)
        resumed = [answer.range for answer in node.meter.since(mark) if answer.range]
        assert len(resumed) == 2 and all(r.startswith("bytes=") and r != "bytes=0-" for r in resumed)  # two cuts, two resumes
        assert _sha256(saved) == _sha256(node.cube_path)
    finally:
        proxy.close()


def test_bytes_that_do_not_match_the_catalogue_are_not_kept(node, tmp_path):
    commons = Commons(node.url)
    dataset = next(found for found in commons.datasets(kind="raw") if found.pid != node.cube_pid)
    [file] = dataset.files
    on_disk = node.data / file.path
    original = on_disk.read_bytes()
    changed = bytearray(original)
    changed[-1] ^= 0xFF  # the storage changed the file behind the catalogue's back
    try:
        on_disk.write_bytes(bytes(changed))
        os.utime(on_disk, ns=(on_disk.stat().st_atime_ns, on_disk.stat().st_mtime_ns + 10**9))
        with pytest.raises(ChecksumMismatch, match="do not have the sha256 checksum"):
            file.download(tmp_path, progress=False)
        assert not (tmp_path / file.name).exists() and not list(tmp_path.glob("*.part*"))
    finally:
        on_disk.write_bytes(original)
    assert file.download(tmp_path, progress=False).read_bytes() == original


def test_download_a_whole_dataset(node, tmp_path):
    commons = Commons(node.url)
    dataset = next(iter(commons.datasets(kind="processed")))
    saved = dataset.download(tmp_path, progress=True)
    assert [path.relative_to(tmp_path).as_posix() for path in saved] == [file.path for file in dataset.files]
    for path, file in zip(saved, dataset.files):
        assert path.read_bytes() == (node.data / file.path).read_bytes()
    mark = len(node.meter.answers)
    assert dataset.download(tmp_path, progress=False) == saved  # all there already: nothing fetched
    assert {answer.path for answer in node.meter.since(mark) if answer.path.startswith("/files/")} <= \
        {f"/files/{file.id}" for file in dataset.files}
    assert all(answer.bytes < 1024 for answer in node.meter.since(mark))  # HEADs and listings, no file's bytes


def test_an_embargoed_file_downloads_with_the_token_only(node, tmp_path):
    [file] = Commons(node.url, token=node.token).dataset(node.embargoed_pid).files
    assert file.download(tmp_path, progress=False).read_bytes() == (node.data / file.path).read_bytes()
    anonymous = httpx.get(file.url)
    assert anonymous.status_code == 404


def test_server_paths_never_escape_the_target(tmp_path):
    assert inside(tmp_path, "NLS/MX1/run.nxs") == tmp_path / "NLS" / "MX1" / "run.nxs"
    for hostile in ["../outside.nxs", "/etc/passwd", "a/../../b", "C:/x", "", "\\etc\\passwd", "\\tmp/evil"]:
        with pytest.raises(CommonsError, match="would not stay under"):
            inside(tmp_path, hostile)
    with pytest.raises(CommonsError, match="would not stay under"):
        inside(tmp_path, "NLS/run.nxs", bare=True)  # a file's name is a name, not a path


def test_a_file_name_from_the_server_cannot_leave_the_directory(node, tmp_path):
    dataset = Commons(node.url).dataset(node.cube_pid)
    [real] = dataset.files
    hostile = File(dataset, {**real.raw, "name": "../escaped.bin"})
    (tmp_path / "downloads").mkdir()
    with pytest.raises(CommonsError, match="would not stay under"):
        hostile.download(tmp_path / "downloads", progress=False)
    assert sorted(path.name for path in tmp_path.rglob("*")) == ["downloads"]


def test_a_resumed_download_is_verified_as_a_whole(node, tmp_path):
    port = int(node.url.rsplit(":", 1)[1])
    proxy = CuttingProxy(port, after=3_000_000, cuts=1)
    try:
        [file] = Commons(f"http://127.0.0.1:{proxy.port}").dataset(node.cube_pid).files
        with pytest.raises(DownloadInterrupted):
            file.download(tmp_path, progress=False, retries=0)
        part = tmp_path / "stack_0001.nxs.part"
        spoiled = bytearray(part.read_bytes())
        spoiled[1000] ^= 0xFF  # the bytes kept on the local disk went bad before the rest arrived
        part.write_bytes(bytes(spoiled))
        mark = len(node.meter.answers)
        with pytest.raises(ChecksumMismatch):
            file.download(tmp_path, progress=False)
        assert [answer.range for answer in node.meter.since(mark) if answer.range] == [f"bytes={len(spoiled)}-"]
        assert not (tmp_path / "stack_0001.nxs").exists() and not part.exists()
        assert file.download(tmp_path, progress=False).read_bytes() == node.cube_path.read_bytes()
    finally:
        proxy.close()


@pytest.fixture
def catalogued_checksum(node):
    """Set the catalogued checksum of one file for a test; restored after it."""
    changed = []

    def set_checksum(file_id: int, checksum: str, algorithm: str) -> None:
        with node.engine.begin() as connection:
            before = connection.execute(select(t.DataFile.checksum, t.DataFile.checksum_algorithm)
                                        .where(t.DataFile.id == file_id)).one()
            connection.execute(update(t.DataFile).where(t.DataFile.id == file_id)
                               .values(checksum=checksum, checksum_algorithm=algorithm))
        changed.append((file_id, *before))

    yield set_checksum
    with node.engine.begin() as connection:
        for file_id, checksum, algorithm in changed:
            connection.execute(update(t.DataFile).where(t.DataFile.id == file_id)
                               .values(checksum=checksum, checksum_algorithm=algorithm))


def test_a_checksum_under_an_unregistered_algorithm_is_still_verified(node, cube, catalogued_checksum, tmp_path):
    catalogued_checksum(cube.id, hashlib.sha3_256(node.cube_path.read_bytes()).hexdigest(), "sha3_256")
    assert httpx.head(cube.url).headers["repr-digest"].startswith("sha3_256=:")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # verified: no warning
        assert cube.download(tmp_path, progress=False).read_bytes() == node.cube_path.read_bytes()
    catalogued_checksum(cube.id, hashlib.sha3_256(b"other bytes").hexdigest(), "sha3_256")
    with pytest.raises(ChecksumMismatch, match="sha3_256"):
        cube.download(tmp_path / "again.nxs", progress=False)


def test_without_a_catalogued_checksum_the_bytes_decide(node, cube, catalogued_checksum, tmp_path):
    catalogued_checksum(cube.id, "", "")  # as a PaNOSC dump imports files
    assert "repr-digest" not in httpx.head(cube.url).headers
    with pytest.warns(UnverifiedDownload, match="only its size was checked"):
        saved = cube.download(tmp_path, progress=False)
    assert saved.read_bytes() == node.cube_path.read_bytes()
    with pytest.warns(UnverifiedDownload):
        assert cube.download(tmp_path, progress=False) == saved  # the same bytes: kept
    same_size = bytearray(saved.read_bytes())
    same_size[0] ^= 0xFF
    saved.write_bytes(bytes(same_size))
    with pytest.warns(UnverifiedDownload), pytest.raises(LocalCopyDiffers):
        cube.download(tmp_path, progress=False)  # a size that matches is not enough to call it good
    assert saved.read_bytes() == bytes(same_size) and not list(tmp_path.glob("*.part*"))


def test_a_directory_where_the_file_should_go_is_refused(cube, tmp_path):
    (tmp_path / "stack_0001.nxs").mkdir()
    with pytest.raises(CommonsError, match="is a directory"):
        cube.download(tmp_path, progress=False)
    assert cube.download(str(tmp_path / "new") + "/", progress=False) == tmp_path / "new" / "stack_0001.nxs"
