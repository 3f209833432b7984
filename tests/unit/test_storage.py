from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from shared.errors import IntegrityError, NotFound
from shared.storage import FilesystemStorage


def test_put_returns_the_sha256_and_get_returns_the_bytes(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path)
    content = b"%PDF-1.7 fake"
    address = storage.put(content)
    assert address == hashlib.sha256(content).hexdigest()
    assert storage.get(address) == content
    assert storage.put(content) == address  # idempotent
    assert storage.exists(address)


def test_a_changed_file_is_detected_on_read(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path)
    address = storage.put(b"original")
    path = tmp_path / address[:2] / address[2:4] / address
    path.write_bytes(b"tampered")
    with pytest.raises(IntegrityError):
        storage.get(address)


def test_unknown_or_malformed_address_is_not_found(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path)
    with pytest.raises(NotFound):
        storage.get("0" * 64)
    with pytest.raises(NotFound):
        storage.get("../../etc/passwd")
