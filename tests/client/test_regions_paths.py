"""Every way the client fingerprints an image sends the query regions the fingerprint
computed: a re-post inside a screenshot is found only through them."""

import io
import tarfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from registry.chunk_wire import decode_hashes, encode_hashes, unpack
from registry.client.api import Registry
from registry.client.batch import fingerprint_batch, screen_batch
from registry.client.datasets import find_shards
from registry.client.diligence import ConsentryImageRule
from registry.client.hashing import fingerprint_item
from registry.client.inputs import InputItem
from registry.client.shards import Settings, ShardRun
from registry.fingerprints import FINGERPRINT_VERSION, fingerprint_image
from registry.gatekeeper import ReasonCode
from registry.services.organizations import api_key_create
from tests.api.conftest import screenshot_bytes


@pytest.fixture
def shot() -> bytes:
    return screenshot_bytes(1)


@pytest.fixture
def regions(shot: bytes) -> list[dict[str, Any]]:
    computed = fingerprint_image(shot).to_wire()["regions"]
    assert computed  # the screenshot's post is a region of its own
    return computed  # type: ignore[return-value]


def _shards(folder: Path, shot: bytes) -> list[Any]:
    with tarfile.open(folder / "00000.tar", "w") as archive:
        info = tarfile.TarInfo("s/000.jpg")
        info.size = len(shot)
        archive.addfile(info, io.BytesIO(shot))
    pq.write_table(pa.table({"key": ["p0"], "jpg": [shot]}), folder / "00001.parquet")
    return find_shards([str(folder / "00000.tar"), str(folder / "00001.parquet")]) or []


def test_the_folder_batch_and_shard_paths_send_the_computed_regions(tmp_path, shot, regions):
    path = tmp_path / "shot.jpg"
    path.write_bytes(shot)
    run = ShardRun(
        Registry("http://127.0.0.1:9", "key"),
        tmp_path / "out",
        Settings(api="http://127.0.0.1:9", purpose="ai_training", mode="consent_required"),
    )
    shards = _shards(tmp_path, shot)
    assert len(shards) == 2

    folder = fingerprint_item(InputItem(path=str(path), id="shot"))
    batch = fingerprint_batch([shot, {"bytes": shot}])
    sharded = [run._fingerprints(list(shard.samples())) for shard in shards]

    for wire in (folder, *batch, *(wires[0] for wires in sharded)):
        assert wire["regions"] == regions


def test_the_binary_wire_carries_the_regions_to_the_registry(shot, regions):
    sent = {"id": "shot", **fingerprint_image(shot).to_wire()}

    (received,) = decode_hashes(
        unpack(encode_hashes(0, FINGERPRINT_VERSION, [sent])), max_items=1
    ).items

    # Phase 1 carries what the search reads of a region, its pHash; the rest goes in phase 2.
    assert received["regions"] == [{"phash": region["phash"]} for region in regions]


def test_the_datadiligence_image_check_sends_the_regions(shot, regions):
    asked: list[dict[str, Any]] = []

    class Recorder:
        def post(self, path: str, json: dict[str, Any]) -> dict[str, Any]:
            asked.append(json)
            return {"items": [{"passes": False}]}

    rule = ConsentryImageRule(Recorder(), "ai_training", "consent_required")  # type: ignore[arg-type]

    assert rule.is_allowed(body=shot) is False
    assert asked[0]["items"][0]["regions"] == regions


def test_screen_batch_finds_a_work_inside_a_screenshot_through_its_region(
    live_server, acme, works, shot
):
    """The batch API (Ray Data, Spark, a plain loop) screens through the synchronous check:
    the screenshot's region finds alice's allowed work, and the app frame around it keeps
    the screenshot from passing in consent_required."""
    _, key = api_key_create(organization=acme)

    (row,) = screen_batch([shot], api=live_server.url, key=key, purpose="ai_training")

    assert row["decision"] == "unregistered" and row["passes"] is False
    assert row["matched_work_ids"] == [works["allowed"].pk]
    assert ReasonCode.INSIDE_LARGER_PICTURE in row["reason"]


@pytest.mark.parametrize(
    ("step", "error"),
    [
        ("fingerprint_image", ValueError("a bug in the edge search")),
        ("embedded_to_wire", KeyError("a malformed IPTC record")),
    ],
)
def test_a_file_whose_fingerprinting_fails_is_unreadable_and_the_run_goes_on(
    tmp_path, shot, monkeypatch, step, error
):
    """Fail closed, unattended: an unexpected error on one file, in its fingerprint or in its
    embedded signals, makes that item unreadable (decided invalid, never passed) and nothing
    else, instead of stopping the folder or the batch."""
    path = tmp_path / "odd.png"
    path.write_bytes(shot)

    def broken(data: bytes) -> None:
        raise error

    monkeypatch.setattr(f"registry.client.hashing.{step}", broken)
    folder = fingerprint_item(InputItem(path=str(path), id="odd"))
    batch = fingerprint_batch([shot, None])
    assert set(folder) == {"id", "unreadable"}
    assert str(error) in folder["unreadable"]
    assert set(batch[0]) == {"unreadable"}
    assert "fingerprinting failed" in batch[0]["unreadable"]
    assert str(error) in batch[0]["unreadable"]
    assert batch[1] == {"unreadable": "the sample holds no image"}
