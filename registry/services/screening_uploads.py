"""Image files sent for screening: the request stores each file's bytes in its chunk, and the
worker fingerprints them when it decides the chunk (a Celery task), so no web worker
decodes an image."""

import base64
import binascii
import logging
from collections.abc import Mapping
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.core.files.uploadedfile import UploadedFile

from registry.fingerprints import MAX_IMAGE_BYTES, ImageDecodeError, fingerprint_image
from registry.optout import embedded_to_wire

logger = logging.getLogger(__name__)

# Only the server writes this field (a client's item carrying it is refused), so the worker
# decodes only files that passed the upload bounds.
UPLOAD_FIELD = "uploaded_image_base64"


def upload_item(upload: UploadedFile, item_id: str) -> dict[str, Any]:
    """The item for one uploaded file, its bytes kept for the worker; nothing is decoded."""
    if upload.size is not None and upload.size > MAX_IMAGE_BYTES:
        return {
            "id": item_id,
            "unreadable": f"the file has {upload.size} bytes; the limit is {MAX_IMAGE_BYTES}",
        }
    return {"id": item_id, UPLOAD_FIELD: base64.b64encode(upload.read()).decode("ascii")}


def fingerprinted_item(item: Mapping[str, Any]) -> Mapping[str, Any]:
    """An uploaded file's item with its fingerprint and embedded reservations, or an item that
    will be invalid when the file is no readable image; any other item as it is."""
    if UPLOAD_FIELD not in item:
        return item
    try:
        data = base64.b64decode(item[UPLOAD_FIELD], validate=True)
        fingerprint = fingerprint_image(data)
        embedded = embedded_to_wire(data)
    except (ImageDecodeError, binascii.Error, TypeError) as error:
        return {"id": item["id"], "unreadable": str(error)}
    except SoftTimeLimitExceeded:
        raise
    except Exception:
        # Invalid, not a chunk that fails on every retry: one odd file must not stall the rest.
        logger.exception("Reading the uploaded file %r failed", item["id"])
        return {"id": item["id"], "unreadable": "the file could not be read (an error on our side)"}
    return {"id": item["id"], **fingerprint.to_wire(), "embedded": embedded}
