"""Downloads: the bytes are the file's, a broken connection is resumed with Range, the checksum
the node catalogued (Repr-Digest) is verified, and a good local copy is never overwritten."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import threading
from pathlib import Path

import httpx
import pytest

from pancommons.client import (
    ChecksumMismatch,
    Commons,
    CommonsError,
    DownloadInterrupted,
    LocalCopyDiffers,
)
from pancommons.client.download import inside, parse_digest


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
    assert dataset.download(tmp_path, progress=False) == saved  # all there already: nothing fetched


def test_an_embargoed_file_downloads_with_the_token_only(node, tmp_path):
    [file] = Commons(node.url, token=node.token).dataset(node.embargoed_pid).files
    assert file.download(tmp_path, progress=False).read_bytes() == (node.data / file.path).read_bytes()
    anonymous = httpx.get(file.url)
    assert anonymous.status_code == 404


def test_server_paths_never_escape_the_target(tmp_path):
    assert inside(tmp_path, "NLS/MX1/run.nxs") == tmp_path / "NLS" / "MX1" / "run.nxs"
    for hostile in ["../outside.nxs", "/etc/passwd", "a/../../b", "C:/x", ""]:
        with pytest.raises(CommonsError, match="would not stay under"):
            inside(tmp_path, hostile)
