"""Files and folders to notices: one `.eml`, a Maildir, a folder of messages, CAMT.053, MT940.

This module owns how a path is walked (sorted, deterministic), how a file's kind is recognised
(by content; the extension only decides which files of a folder are read) and the size cap. An
unreadable or oversized file becomes a `Rejected`, never an exception. Origins are paths
relative to the argument, `#n` added for the n-th entry of a statement.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import stat
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat
from pathlib import Path

from tenantry.payments.notices import Notice, Rejected
from tenantry.payments.sources.camt import is_camt053, parse_camt053
from tenantry.payments.sources.email_notice import MAX_MESSAGE_BYTES, parse_email
from tenantry.payments.sources.swift_mt940 import is_mt940, parse_mt940
from tenantry.payments.trust import DkimVerifier

__all__ = ["MAX_FILE_BYTES", "parse_workers", "printable", "read_file", "read_path"]

MAX_FILE_BYTES = MAX_MESSAGE_BYTES
_FOLDER_SUFFIXES = frozenset({".eml", ".xml", ".sta", ".mt940", ".txt", ".940"})
_HEAD = 4096
# The start of an RFC 5322 message: a header field name and its colon (or an mbox "From " line).
# Neither MT940 (":20:", "{1:") nor CAMT.053 ("<") starts so.
_MAIL_START = re.compile(rb"(?:From |[A-Za-z0-9-]+:)")


def read_file(path: Path, origin: str, *, verifier: DkimVerifier) -> Iterator[Notice | Rejected]:
    """The notices of one file: a statement yields one per entry, an e-mail one."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a device or pipe could block or never end
            yield Rejected("not a regular file", origin=origin)
            return
        if info.st_size > MAX_FILE_BYTES:
            yield Rejected("file larger than 25 MB", origin=origin)
            return
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        yield Rejected("no such file or folder", origin=origin)
        return
    except OSError:
        yield Rejected("file cannot be read", origin=origin)
        return
    if len(data) > MAX_FILE_BYTES:  # grew while being read
        yield Rejected("file larger than 25 MB", origin=origin)
        return
    head = data[:_HEAD]
    if _MAIL_START.match(head.lstrip(b"\xef\xbb\xbf")):
        # It begins with header lines: an e-mail, whatever its body holds. A statement pasted
        # into a message from anyone must never pass for one an operator imported (trusted).
        yield parse_email(data, verifier=verifier, origin=origin)
    elif is_camt053(head):
        yield from parse_camt053(data, origin=origin)
    elif is_mt940(head):
        yield from parse_mt940(data, origin=origin)
    else:
        yield parse_email(data, verifier=verifier, origin=origin)


def _maildir_files(root: Path) -> list[Path]:
    files: list[Path] = []
    for sub in ("cur", "new"):
        folder = root / sub
        if folder.is_dir():
            files.extend(
                entry
                for entry in folder.iterdir()
                if entry.is_file() and not entry.name.startswith(".")
            )
    return files


def _folder_files(root: Path) -> list[Path]:
    files: list[Path] = []
    for folder, dirs, names in os.walk(root, followlinks=False):
        dirs[:] = [name for name in dirs if not name.startswith(".") and name != "tmp"]
        here = Path(folder)
        if here != root and ((here / "cur").is_dir() or (here / "new").is_dir()):
            files.extend(_maildir_files(here))
            dirs[:] = []
            continue
        if here.name in ("cur", "new") and (here.parent / "cur").is_dir() and here.parent != root:
            continue
        files.extend(
            here / name
            for name in names
            if not name.startswith(".") and Path(name).suffix.lower() in _FOLDER_SUFFIXES
        )
    return files


def read_path(
    path: Path, *, verifier: DkimVerifier, workers: int = 1
) -> Iterator[Notice | Rejected]:
    """Every notice under `path`: a file, a Maildir (cur/ and new/) or a folder of `.eml` and
    statement files (walked recursively, Maildirs inside it included), in sorted order.

    With `workers` > 1 and many files, the files are parsed and verified in that many worker
    processes (MIME parsing and DKIM are CPU-bound); the order stays the same.
    """
    if not path.is_dir():
        yield from read_file(path, printable(path.name), verifier=verifier)
        return
    is_maildir = (path / "cur").is_dir() or (path / "new").is_dir()
    files = _maildir_files(path) if is_maildir else _folder_files(path)
    ordered = sorted(files, key=lambda f: f.relative_to(path).as_posix())
    origins = [printable(file.relative_to(path).as_posix()) for file in ordered]
    if workers <= 1 or len(ordered) < _PARALLEL_FROM:
        for file, origin in zip(ordered, origins, strict=True):
            yield from read_file(file, origin, verifier=verifier)
        return
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        chunks = [
            (ordered[i : i + _CHUNK], origins[i : i + _CHUNK])
            for i in range(0, len(ordered), _CHUNK)
        ]
        for items in pool.map(_read_files, chunks, repeat(verifier)):
            yield from items


def printable(name: str) -> str:
    """A file name as UTF-8 text: bytes that are not UTF-8 (kept by the OS as lone surrogates,
    which no JSON line or terminal can print) are written as `\\xe9`."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def parse_workers() -> int:
    """Worker processes for a large folder: the machine's cores, at most four."""
    return max(1, min(4, os.cpu_count() or 1))


# Below this many files a worker pool costs more than it saves.
_PARALLEL_FROM = 400
_CHUNK = 100


def _read_files(
    chunk: tuple[list[Path], list[str]], verifier: DkimVerifier
) -> list[Notice | Rejected]:
    """A worker's share: the notices of these files, in order."""
    files, origins = chunk
    out: list[Notice | Rejected] = []
    for file, origin in zip(files, origins, strict=True):
        out.extend(read_file(file, origin, verifier=verifier))
    return out
