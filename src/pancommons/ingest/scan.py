"""Finding the files to catalogue, as a stream: memory does not grow with the tree.

Every catalogued path is relative to a configured data root.  Symbolic links
are resolved before that decision, so a link inside a root that leads out of
it is refused rather than catalogued (and later served) from outside.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class LocatedFile:
    path: str  # absolute, as found
    data_root: str
    relative: str  # POSIX-style path below the data root
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class ScanProblem:
    path: str
    reason: str
    unlisted_directory: bool = False  # its files were not seen: they must not be called deleted


class OutsideDataRoots(ValueError):
    pass


class DataRoots:
    def __init__(self, roots: Sequence[Path]):
        # Longest first, so a root nested in another claims its own files.
        self.roots = sorted({os.path.realpath(root) for root in roots}, key=len, reverse=True)

    def locate(self, path: str) -> tuple[str, str]:
        real = os.path.realpath(path)
        for root in self.roots:
            if real == root:
                return root, ""
            if real.startswith(root.rstrip(os.sep) + os.sep):
                return root, Path(os.path.relpath(real, root)).as_posix()
        raise OutsideDataRoots(path)

    def describe(self) -> str:
        return ", ".join(self.roots) if self.roots else "none configured"


def _matches(name: str, suffixes: Sequence[str]) -> bool:
    lowered = name.lower()
    return any(lowered.endswith(suffix) for suffix in suffixes)


def walk_files(paths: Sequence[str], roots: DataRoots, suffixes: Sequence[str]) -> Iterator[LocatedFile | ScanProblem]:
    """Candidate files below each path, each once, in a stable order; problems are yielded, not raised.

    A path named explicitly is tried whatever its suffix; inside directories
    only the configured suffixes are picked up.  Directory links are not
    followed (they could loop); a file link is followed, unless its target
    lies in a scanned directory anyway (``latest.nxs`` -> ``run_0042.nxs``).
    """
    tops = scanned_directories(paths)
    seen_dirs: set[str] = set()
    for path in paths:
        state = path_state(path)
        if state == "vanished":
            yield ScanProblem(os.path.abspath(path), "no such file or directory")
            continue
        if state != "ok":
            # unreadable is not gone: nothing below it may be called deleted
            yield ScanProblem(os.path.abspath(path), state, unlisted_directory=True)
            continue
        real = os.path.realpath(path)
        is_dir = os.path.isdir(path)
        below_another = any(real != top and _inside(real, top) for top in tops)
        if below_another and (is_dir or _matches(os.path.basename(path), suffixes)):
            continue  # the walk of the directory above reaches it anyway
        if is_dir:
            if real in seen_dirs:
                continue
            yield from _walk_dir(path, roots, suffixes, seen_dirs, tops)
        else:
            yield _locate(path, roots)


def path_state(path: str) -> str:
    """'ok', 'vanished' (really not there), or why it cannot be looked at (permission, stale mount)."""
    try:
        os.lstat(path)
    except FileNotFoundError:
        return "vanished"
    except OSError as error:
        return f"cannot read ({error.strerror or error})"
    return "ok"


def scanned_directories(paths: Sequence[str]) -> list[str]:
    return [os.path.realpath(path) for path in paths if os.path.isdir(path)]


def _inside(path: str, directory: str) -> bool:
    return path.startswith(directory.rstrip(os.sep) + os.sep)


def _walk_dir(
    top: str, roots: DataRoots, suffixes: Sequence[str], seen_dirs: set[str], tops: Sequence[str]
) -> Iterator[LocatedFile | ScanProblem]:
    stack = [os.path.abspath(top)]
    while stack:
        directory = stack.pop()
        real = os.path.realpath(directory)
        if real in seen_dirs:
            continue
        seen_dirs.add(real)
        try:
            with os.scandir(directory) as scanner:
                entries = sorted(scanner, key=lambda entry: entry.name)
        except OSError as error:
            yield ScanProblem(directory, f"cannot list directory ({error.strerror or error})", unlisted_directory=True)
            continue
        subdirectories = []
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    subdirectories.append(entry.path)
                elif _matches(entry.name, suffixes):
                    if entry.is_symlink() and os.path.exists(entry.path) and any(
                        _inside(os.path.realpath(entry.path), top) for top in tops
                    ):
                        continue  # an alias of a file this walk reaches by its own name
                    yield _locate(entry.path, roots)
            except OSError as error:
                yield ScanProblem(entry.path, f"cannot read ({error.strerror or error})")
        stack.extend(reversed(subdirectories))  # depth first, in name order


def _locate(path: str, roots: DataRoots) -> LocatedFile | ScanProblem:
    absolute = os.path.abspath(path)
    try:
        root, relative = roots.locate(absolute)
    except OutsideDataRoots:
        if os.path.islink(absolute):
            return ScanProblem(absolute, "symbolic link leads outside the data roots")
        return ScanProblem(absolute, f"not under a data root (data roots: {roots.describe()})")
    try:
        stat = os.stat(absolute)
    except FileNotFoundError:
        reason = "broken symbolic link" if os.path.islink(absolute) else "file vanished"
        return ScanProblem(absolute, reason)
    except OSError as error:
        return ScanProblem(absolute, f"cannot stat ({error.strerror or error})")
    if not os.path.isfile(absolute):
        return ScanProblem(absolute, "not a regular file")
    return LocatedFile(absolute, root, relative, stat.st_size, stat.st_mtime_ns)
