"""The client's fingerprint cache across an upgrade of the fingerprint version."""

import json

from registry.client.hashing import file_stamp, fingerprint_all
from registry.client.inputs import InputItem
from registry.fingerprints import FINGERPRINT_VERSION
from tests.api.conftest import screenshot_bytes


def test_a_cached_fingerprint_of_an_earlier_version_is_made_again(tmp_path):
    image = tmp_path / "shot.jpg"
    image.write_bytes(screenshot_bytes(1))
    cache = tmp_path / "fingerprints.jsonl"
    stale = {"id": "shot", "version": FINGERPRINT_VERSION - 1, "sha256": "0" * 64}
    entry = {"stamp": file_stamp(str(image)), "wire": stale}
    cache.write_text(json.dumps(entry) + "\n")
    items = [InputItem(path=str(image), id="shot")]

    (wire,), cached = fingerprint_all(items, cache, workers=1, progress=False)
    (again,), cached_again = fingerprint_all(items, cache, workers=1, progress=False)

    assert cached == 0 and wire["version"] == FINGERPRINT_VERSION and wire["regions"]
    assert cached_again == 1 and again == wire
