"""Atomic file writes: write to a temporary file beside the target, fsync, then rename.

A reader (or a resumed run) never sees a half-written file: after a crash the target is either
the old file or the new one.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

TEMPORARY_SUFFIX = ".tmp"


@contextlib.contextmanager
def atomic_open(path: Path) -> Iterator[BinaryIO]:
    """Open a temporary binary file that replaces ``path`` only if the block completes.

    Raises:
        OSError: naming ``path`` (a full disk or a read-only folder says which file it was writing).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX, dir=path.parent)
    except OSError as err:
        raise OSError(err.errno, f"cannot write: {err.strerror}", str(path)) from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the permissions open() would
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        if isinstance(err, OSError) and err.filename is None:
            raise OSError(err.errno, f"cannot write: {err.strerror}", str(path)) from None
        raise


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the temporary files :func:`atomic_open` left in ``folder`` when a process was killed
    mid-write (its own cleanup never ran). Only call it where no other writer is active."""
    removed = []
    for item in Path(folder).glob(f".*{TEMPORARY_SUFFIX}"):
        if item.is_file():
            with contextlib.suppress(FileNotFoundError):
                item.unlink()
                removed.append(item)
    return removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_open(path) as handle:
        handle.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_with(path: Path, writer: Callable[[BinaryIO], None]) -> None:
    """Atomically write ``path`` with a callable that writes into a binary file object."""
    with atomic_open(path) as handle:
        writer(handle)
