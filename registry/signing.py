"""The registry's receipt signing key, from the environment (production) or var/ (development)."""

import functools
import os
import tempfile

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings

from registry.receipts import load_private_key, new_private_pem


@functools.cache
def receipt_signing_key() -> Ed25519PrivateKey:
    if settings.CONSENTRY_RECEIPT_SIGNING_KEY:
        return load_private_key(settings.CONSENTRY_RECEIPT_SIGNING_KEY.encode())
    # Only outside production, where settings make the variable mandatory.
    path = settings.CONSENTRY_RECEIPT_SIGNING_KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # The web server and the worker may both start without a key and must end up with the
        # same one: write a complete file aside, then link it into place only if none is there.
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as draft:
            draft.write(new_private_pem())
        try:
            os.link(draft.name, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(draft.name)
    return load_private_key(path.read_bytes())
