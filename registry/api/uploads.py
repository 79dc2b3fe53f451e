"""Image files sent to the API: kept as items for the worker, which fingerprints them and
screens them like the client's items."""

from collections.abc import Sequence
from typing import Any

from django.core.files.uploadedfile import UploadedFile

from registry.services.screening_uploads import upload_item


def unique_ids(names: Sequence[str]) -> list[str]:
    """File names as item ids; a repeated name gets a #2, #3 suffix so each answer is its own."""
    seen: dict[str, int] = {}
    ids = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        ids.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return ids


def items_from_files(uploads: Sequence[UploadedFile]) -> list[dict[str, Any]]:
    names = [upload.name or "image" for upload in uploads]
    return [
        upload_item(upload, item_id)
        for upload, item_id in zip(uploads, unique_ids(names), strict=True)
    ]
