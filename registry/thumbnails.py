"""Small previews of works, shown only to their artist and to operators."""

import io

from registry.fingerprints import load_image

THUMBNAIL_SIZE = (320, 320)


def thumbnail_webp(data: bytes) -> bytes:
    image = load_image(data)
    image.thumbnail(THUMBNAIL_SIZE)
    buffer = io.BytesIO()
    image.save(buffer, format="WEBP", quality=80)
    return buffer.getvalue()
