"""Image files sent to the API: fingerprinted here, then screened like the client's items."""

from collections.abc import Sequence
from typing import Any

from django.core.files.uploadedfile import UploadedFile

from registry.fingerprints import MAX_IMAGE_BYTES, ImageDecodeError, fingerprint_image
from registry.optout import embedded_to_wire


def _read(upload: UploadedFile) -> bytes:
    if upload.size is not None and upload.size > MAX_IMAGE_BYTES:
        raise ImageDecodeError(f"the file has {upload.size} bytes; the limit is {MAX_IMAGE_BYTES}")
    return upload.read()


def fingerprint_upload(upload: UploadedFile, item_id: str) -> dict[str, Any]:
    """The item for one uploaded file, with the reservations embedded in it; an unreadable file
    becomes an item that will be invalid."""
    try:
        data = _read(upload)
        fingerprint = fingerprint_image(data)
    except ImageDecodeError as error:
        return {"id": item_id, "unreadable": str(error)}
    return {"id": item_id, **fingerprint.to_wire(), "embedded": embedded_to_wire(data)}


def unique_ids(names: Sequence[str]) -> list[str]:
    """File names as item ids; a repeated name gets a #2, #3 suffix so each answer is its own."""
    seen: dict[str, int] = {}
    ids = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        ids.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return ids


def fingerprints_from_files(uploads: Sequence[UploadedFile]) -> list[dict[str, Any]]:
    names = [upload.name or "image" for upload in uploads]
    return [
        fingerprint_upload(upload, item_id)
        for upload, item_id in zip(uploads, unique_ids(names), strict=True)
    ]
