"""Where optical keeps its cache, and how it writes files so that a crash never
leaves a half-written file looking valid.

The cache root is ``$OPTICAL_HOME``; without it, ``$XDG_CACHE_HOME/optical``
(``~/.cache/optical``). Everything built at set-up (the dequantised model, the
benchmark) lives there and can be deleted at any time: it is rebuilt on demand.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "optical_home",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_path",
    "atomic_dir",
    "sha256_file",
    "file_record",
    "record_files",
    "check_file",
    "check_files",
    "FULL_HASH_MAX_BYTES",
]


def optical_home() -> Path:
    """Return the cache root (created if missing)."""
    env = os.environ.get("OPTICAL_HOME")
    if env:
        root = Path(env).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        root = Path(xdg) / "optical"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import (os.umask is process-wide, not thread-safe)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` on success.

    On any exception the temporary file is removed and ``target`` is untouched. The file
    gets the usual permissions (0666 minus the umask), not ``mkstemp``'s private 0600.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary directory beside ``target``; swap it in on success.

    An existing ``target`` is replaced only after the new one is complete.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp makes private 0700 folders
        yield tmp
        _swap_in(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap_in(tmp: Path, target: Path, attempts: int = 5) -> None:
    """Rename ``tmp`` over ``target``, moving an existing ``target`` aside first.

    Two processes building the same folder may both swap; the later one retries when
    the other's folder appeared in between (the rename then fails with ENOTEMPTY). On any
    other failure the previous ``target`` is put back.
    """
    for attempt in range(attempts):
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old.{os.getpid()}.{attempt}")
            try:
                os.replace(target, old)
            except FileNotFoundError:  # another process moved it first
                old = None
        try:
            os.replace(tmp, target)
        except OSError as err:
            retry = err.errno in (errno.ENOTEMPTY, errno.EEXIST) and attempt < attempts - 1
            if old is not None and retry:  # a newer folder is in place: ours replaces it
                shutil.rmtree(old, ignore_errors=True)
            elif old is not None:
                with contextlib.suppress(OSError):
                    os.replace(old, target)
            if retry:
                continue
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return


STALE_SECONDS = 3600


def _remove_stale(target: Path) -> None:
    """Delete temporary folders that a killed build left beside ``target`` (over an hour old)."""
    import time

    now = time.time()
    for leftover in target.parent.glob(f".{target.name}.*.tmp"):
        try:
            if leftover.is_dir() and now - leftover.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            pass


def atomic_write_text(target: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_json(target: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``target`` atomically."""
    atomic_write_text(target, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n")


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------- integrity
#
# Every file that optical writes into its cache gets a record at write time (size, SHA-256,
# mtime, and for big files a hash of sampled blocks), kept in the folder's manifest, which is
# written last. Reading checks the record cheaply; ``full=True`` re-hashes everything.

FULL_HASH_MAX_BYTES = 64 << 20
"""Files up to this size are fully hashed on every read (a few ms for the benchmark files)."""

SAMPLE_BLOCKS = 64
SAMPLE_BLOCK_BYTES = 64 << 10

# Files whose full hash matched in this process, by (path, inode, size, mtime, ctime): any
# write through the file system changes the ctime, so a hit is the same unmodified file.
_VERIFIED: set[tuple] = set()


def _sample_offsets(size: int) -> list[int]:
    if size <= SAMPLE_BLOCKS * SAMPLE_BLOCK_BYTES:
        return [0]
    last = size - SAMPLE_BLOCK_BYTES
    return [last * i // (SAMPLE_BLOCKS - 1) for i in range(SAMPLE_BLOCKS)]


def sampled_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 over 64 evenly spaced 64 KiB blocks of a file (first and last included)."""
    h = hashlib.sha256()
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        for offset in _sample_offsets(size):
            fh.seek(offset)
            h.update(fh.read(SAMPLE_BLOCK_BYTES if size > SAMPLE_BLOCK_BYTES else size))
    return h.hexdigest()


def _identity(path: Path) -> tuple:
    st = path.stat()
    return (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def file_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What a manifest keeps of a file written now: size, SHA-256, mtime (and sampled hash)."""
    path = Path(path)
    st = path.stat()
    record: dict[str, Any] = {
        "size": st.st_size,
        "sha256": sha256_file(path),
        "mtime_ns": st.st_mtime_ns,
    }
    if st.st_size > FULL_HASH_MAX_BYTES:
        record["sample_sha256"] = sampled_sha256(path)
    return record


def record_files(folder: str | os.PathLike[str], exclude: tuple[str, ...] = ()) -> dict[str, dict]:
    """:func:`file_record` of every file under ``folder`` by relative POSIX path (sorted)."""
    folder = Path(folder)
    return {
        rel: file_record(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and (rel := p.relative_to(folder).as_posix()) not in exclude
    }


def check_file(
    path: str | os.PathLike[str], record: dict[str, Any], full: bool = False, sampled: bool = True
) -> str | None:
    """Why ``path`` does not match its ``record`` (``None`` when it does).

    Always checks the size. The full SHA-256 is compared when ``full``, when the file is
    small (up to :data:`FULL_HASH_MAX_BYTES`), when the record has no sampled hash, when
    ``sampled`` is off, or when the file's mtime differs from the recorded one (it was written
    since); otherwise the hash of sampled blocks is compared. A full match is remembered for
    the process until the file changes (unless ``full``).
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        return "missing"
    if size != record.get("size"):
        return f"size {size} bytes, expected {record.get('size')} (truncated or overwritten)"
    ident = _identity(path)
    if not full and ident in _VERIFIED:
        return None
    needs_full = (
        full
        or not sampled
        or size <= FULL_HASH_MAX_BYTES
        or "sample_sha256" not in record
        or ident[3] != record.get("mtime_ns")
    )
    if needs_full:
        if sha256_file(path) != record.get("sha256"):
            return "checksum mismatch (the file was modified or is corrupt)"
        _VERIFIED.add(ident)
        return None
    if sampled_sha256(path) != record["sample_sha256"]:
        return "checksum mismatch (the file was modified or is corrupt)"
    return None


def check_files(
    folder: str | os.PathLike[str],
    records: dict[str, dict],
    full: bool = False,
    sampled: bool = True,
) -> str | None:
    """First problem among ``records`` (relative paths under ``folder``), as ``"<file>: why"``."""
    folder = Path(folder)
    for rel, record in records.items():
        problem = check_file(folder / rel, record, full=full, sampled=sampled)
        if problem:
            return f"{rel}: {problem}"
    return None
