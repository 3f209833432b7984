"""Content-addressed file storage: files are stored and found by their SHA-256.

`FileStorage` is the abstraction; `FilesystemStorage` keeps files under a directory as
ab/cd/abcdef... . Every read verifies the content against its address.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

from shared.config import get_settings
from shared.errors import IntegrityError, NotFound


class FileStorage(Protocol):
    def put(self, content: bytes) -> str:
        """Store `content`; return its SHA-256 (hex). Storing the same bytes twice is a no-op."""

    def get(self, sha256: str) -> bytes:
        """Return the content; raise NotFound or IntegrityError."""

    def exists(self, sha256: str) -> bool: ...


def _check_address(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise NotFound("Dit bestand bestaat niet.")
    return sha256


class FilesystemStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        _check_address(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, content: bytes) -> str:
        sha256 = hashlib.sha256(content).hexdigest()
        path = self._path(sha256)
        if path.exists():
            return sha256
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary file and rename, so a crash never leaves half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return sha256

    def get(self, sha256: str) -> bytes:
        path = self._path(sha256)
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            raise NotFound("Dit bestand bestaat niet.") from None
        if hashlib.sha256(content).hexdigest() != sha256:
            raise IntegrityError(f"stored file {sha256} does not match its checksum")
        return content

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).exists()


@functools.cache
def get_storage() -> FileStorage:
    return FilesystemStorage(get_settings().storage_path)
