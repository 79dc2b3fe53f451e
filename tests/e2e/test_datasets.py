"""Datasets where AI teams keep them: webdataset shards, parquet with image bytes and saved
Hugging Face datasets, screened shard by shard through `python -m registry.client screen` and
through the Python API, against a live server and a real worker."""

import io
import json
import tarfile
from pathlib import Path

import datasets as hf
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.db.models import Sum

from registry.client import shards as shard_module
from registry.client.batch import (
    close_registries,
    fingerprint_batch,
    screen_batch,
    screen_columns,
    screen_pandas,
)
from registry.client.cli import INTERRUPTED
from registry.client.cli import main as client_main
from registry.demo_art import artwork
from registry.models import Permission, Purpose, Screening, ScreeningChunk, ScreeningItem
from registry.services.organizations import api_key_create, organization_create
from registry.services.terms import terms_set
from tests.conftest import _SEED_BASE
from tests.factories import ArtistFactory

CORRUPT = b"\xff\xd8\xff\xe0 a download cut short"


def _jpeg(seed: int, scale: float = 1.0) -> bytes:
    image = artwork(_SEED_BASE + seed)
    image = image.resize((round(image.width * scale), round(image.height * scale)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


@pytest.fixture
def acme_key(transactional_db) -> str:
    _, key = api_key_create(organization=organization_create(name="Acme AI"))
    return key


@pytest.fixture
def registered(transactional_db, register_work):
    """alice's work 1 allowed for AI training (CC-BY-4.0), her work 2 refused (consent first)."""
    alice = ArtistFactory.create(
        user__username="alice", display_name="Alice Liu", verified_with="e2e: staff saw her ID"
    )
    allowed = register_work(alice, seed=1)
    refused = register_work(alice, seed=2)
    terms_set(
        artist=alice,
        works=[allowed],
        purpose=Purpose.AI_TRAINING,
        permission=Permission.ALLOWED,
        license="CC-BY-4.0",
    )
    return {"alice": alice, "allowed": allowed, "refused": refused}


# Per shard: a re-post of the allowed work, a copy of the refused one, a stranger, a corrupt
# download. The expected decision of each, by position.
EXPECTED = ["allowed", "denied", "unregistered", "invalid"]


def _images(shard: int) -> list[bytes]:
    return [_jpeg(1, scale=0.7), _jpeg(2, scale=0.8), _jpeg(60 + shard), CORRUPT]


def _write_tar(path: Path, members: list[tuple[str, bytes]]) -> None:
    with tarfile.open(path, "w") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def _webdataset(folder: Path, shards: int = 2) -> dict[str, list[str]]:
    """img2dataset's layout: KEY.jpg, KEY.json (key, url), KEY.txt; its metadata .parquet beside
    each .tar. Returns each shard's keys in order."""
    folder.mkdir()
    keys: dict[str, list[str]] = {}
    for shard in range(shards):
        name = f"{shard:05d}"
        keys[name] = [f"{name}{row:04d}" for row in range(len(EXPECTED))]
        members: list[tuple[str, bytes]] = []
        for key, image in zip(keys[name], _images(shard), strict=True):
            sidecar = {"key": key, "url": f"https://crawl.example/{key}.jpg", "caption": "c"}
            members += [
                (f"{key}.jpg", image),
                (f"{key}.json", json.dumps(sidecar).encode()),
                (f"{key}.txt", b"a caption"),
            ]
        _write_tar(folder / f"{name}.tar", members)
        pq.write_table(pa.table({"key": keys[name]}), folder / f"{name}.parquet")
    return keys


def _command(path, api, key, out, *extra):
    return ["screen", str(path), "--api", api, "--key", key, "--purpose", "ai_training",
            "--out", str(out), "--wait", "120", *extra]  # fmt: skip


def _results(out: Path, shard: str) -> list[dict]:
    return pq.read_table(out / shard / "results.parquet").to_pylist()


def _tar_members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as archive:
        return {member.name: archive.extractfile(member).read() for member in archive}  # type: ignore[union-attr]


def test_webdataset_shards_are_screened_filtered_with_credit_and_skipped_when_finished(
    registered, worker, live_server, acme_key, tmp_path, capsys
):
    keys = _webdataset(tmp_path / "shards")
    out, kept = tmp_path / "screened", tmp_path / "kept"
    pattern = tmp_path / "shards" / "{00000..00001}.tar"
    arguments = _command(pattern, live_server.url, acme_key, out, "--filtered-out", str(kept))

    assert client_main(arguments) == 0

    captured = capsys.readouterr()
    allowed_id = registered["allowed"].pk
    for shard, shard_keys in keys.items():
        rows = _results(out, shard)
        assert [row["key"] for row in rows] == shard_keys  # every sample, in order, its own id
        assert [row["decision"] for row in rows] == EXPECTED
        assert rows[0]["matched_work_ids"] == [allowed_id] and rows[0]["passes"]
        assert rows[1]["matched_work_ids"] == [registered["refused"].pk]
        assert "decode" in rows[3]["reason"]  # the corrupt member: invalid with its reason
        credit = json.loads(rows[0]["credit"])
        assert credit[0]["artist"] == "Alice Liu" and credit[0]["license"] == "CC-BY-4.0"

        members = _tar_members(kept / f"{shard}.tar")
        allowed_key = shard_keys[0]
        assert sorted(members) == [f"{allowed_key}.{ext}" for ext in ("jpg", "json", "txt")]
        assert members[f"{allowed_key}.jpg"] == _images(0)[0]
        sidecar = json.loads(members[f"{allowed_key}.json"])
        assert sidecar["url"] == f"https://crawl.example/{allowed_key}.jpg"
        assert sidecar["consentry_credit"] == credit
        assert np.load(kept / f"{shard}.uids.npy").tolist() == [allowed_key]
        assert (out / shard / "done.json").exists() and (out / shard / "receipt.json").exists()
    assert captured.err.count("items/s") >= 2 and "ETA" in captured.err  # a line per shard
    assert "2 shards: 2 screened, 0 skipped (finished earlier), 0 failed; 8 samples" in captured.out
    assert "allowed 2, denied 2, invalid 2, unregistered 2" in captured.out
    assert "] 00001: 4 samples in" in captured.err
    assert Screening.objects.count() == 2  # one screening per shard
    # Rows for the allowed and denied samples; the unregistered and invalid ones are counted.
    assert ScreeningItem.objects.count() == 4
    counted = ScreeningChunk.objects.aggregate(
        unregistered=Sum("unregistered_items"), invalid=Sum("invalid_items")
    )
    assert counted == {"unregistered": 2, "invalid": 2}

    # A rerun: nothing changed, so both finished shards are skipped.
    assert client_main(arguments) == 0
    captured = capsys.readouterr()
    assert captured.err.count("finished earlier") == 2
    assert "0 screened, 2 skipped (finished earlier), 0 failed; 8 samples" in captured.out
    assert "allowed 2, denied 2, invalid 2, unregistered 2" in captured.out
    assert Screening.objects.count() == 2

    # Consent withdrawn: the registry moved on, so the shards are screened again.
    terms_set(
        artist=registered["alice"],
        works=[registered["allowed"]],
        purpose=Purpose.AI_TRAINING,
        permission=Permission.NOT_ALLOWED,
    )
    # --reuse keeps the finished shards, saying so; by default they are screened again.
    assert client_main([*arguments, "--reuse"]) == 0
    assert capsys.readouterr().err.count("(--reuse); skipped") == 2
    assert Screening.objects.count() == 2
    assert client_main(arguments) == 0
    captured = capsys.readouterr()
    assert captured.err.count("the registry changed since it was screened") == 2
    assert Screening.objects.count() == 4
    for shard in keys:
        assert _results(out, shard)[0]["decision"] == "denied"
        assert _tar_members(kept / f"{shard}.tar") == {}
        assert np.load(kept / f"{shard}.uids.npy").tolist() == []


def test_a_broken_shard_fails_alone_and_an_interrupted_shard_resumes_its_screening(
    registered, worker, live_server, acme_key, tmp_path, capsys, monkeypatch
):
    keys = _webdataset(tmp_path / "shards", shards=2)
    broken = tmp_path / "shards" / "00000.tar"
    broken.write_bytes(broken.read_bytes()[:700])  # cut inside the first member's data
    out = tmp_path / "screened"
    arguments = _command(tmp_path / "shards", live_server.url, acme_key, out, "--chunk-size", "2")

    sent: list[int] = []
    real_send = shard_module.ShardRun._send_chunk

    def interrupted_after_one_chunk(self, folder, state, number, items):
        if sent:
            raise KeyboardInterrupt
        real_send(self, folder, state, number, items)
        sent.append(number)

    monkeypatch.setattr(shard_module.ShardRun, "_send_chunk", interrupted_after_one_chunk)
    assert client_main(arguments) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == INTERRUPTED
    monkeypatch.setattr(shard_module.ShardRun, "_send_chunk", real_send)

    assert client_main(arguments) == 1  # one shard failed: not a success
    captured = capsys.readouterr()
    assert "00000: FAILED" in captured.err and "not a readable tar shard" in captured.err
    assert "00001: resuming screening" in captured.err
    assert "1 screened, 0 skipped (finished earlier), 1 failed" in captured.out
    rows = _results(out, "00001")
    assert [row["key"] for row in rows] == keys["00001"]
    assert [row["decision"] for row in rows] == EXPECTED
    screened = ScreeningItem.objects.filter(item_id=keys["00001"][0]).values("screening")
    assert screened.count() == 1  # the resumed run went on with the same screening
    screening = Screening.objects.get(pk__in=screened)
    chunks = ScreeningChunk.objects.filter(screening=screening)
    assert sum(chunk.item_count for chunk in chunks) == 4 == screening.done_items
    items = ScreeningItem.objects.filter(screening=screening)
    assert items.count() == 2 == items.values("item_id").distinct().count()
    assert not (out / "00000" / "done.json").exists()


def _img2dataset_parquet(path: Path, prefix: str) -> list[str]:
    keys = [f"{prefix}{row}" for row in range(len(EXPECTED) + 1)]
    images: list[bytes | None] = [*_images(0), None]  # the last: a failed download
    pq.write_table(
        pa.table(
            {
                "key": keys,
                "url": [f"https://crawl.example/{key}.jpg" for key in keys],
                "caption": [f"caption {key}" for key in keys],
                "status": ["success"] * len(EXPECTED) + ["failed_to_download"],
                "jpg": images,
            }
        ),
        path,
    )
    return keys


def test_parquet_with_image_bytes_keeps_its_passing_rows_and_columns_with_credit(
    registered, worker, live_server, acme_key, tmp_path, capsys
):
    folder = tmp_path / "parquet"
    folder.mkdir()
    keys = {name: _img2dataset_parquet(folder / f"{name}.parquet", name) for name in ("a", "b")}
    out, kept = tmp_path / "screened", tmp_path / "kept"
    arguments = _command(folder, live_server.url, acme_key, out, "--filtered-out", str(kept))

    assert client_main(arguments) == 0

    for name, shard_keys in keys.items():
        rows = _results(out, name)
        assert [row["key"] for row in rows] == shard_keys
        assert [row["decision"] for row in rows] == [*EXPECTED, "invalid"]
        assert "no image bytes" in rows[-1]["reason"]
        filtered = pq.read_table(kept / f"{name}.parquet").to_pylist()
        assert [row["key"] for row in filtered] == [shard_keys[0]]
        assert filtered[0]["caption"] == f"caption {shard_keys[0]}"
        assert filtered[0]["jpg"] == _images(0)[0]
        credit = json.loads(filtered[0]["consentry_credit"])
        assert credit[0]["work_id"] == registered["allowed"].pk
        assert np.load(kept / f"{name}.uids.npy").tolist() == [shard_keys[0]]
    assert "allowed 2, denied 2, invalid 4, unregistered 2" in capsys.readouterr().out


def test_a_saved_hugging_face_dataset_is_read_by_its_image_column(
    registered, worker, live_server, acme_key, tmp_path, capsys
):
    uids = [f"uid-{row}" for row in range(len(EXPECTED))]
    images = [{"bytes": data, "path": None} for data in _images(0)]
    dataset = hf.Dataset.from_dict({"uid": uids, "picture": images, "text": uids})
    saved = tmp_path / "laion-subset"
    dataset.cast_column("picture", hf.Image()).save_to_disk(str(saved))
    out, kept = tmp_path / "screened", tmp_path / "kept"
    arguments = _command(saved, live_server.url, acme_key, out, "--filtered-out", str(kept))

    assert client_main(arguments) == 1  # no column jpg/png/webp/image: the shard fails, named
    assert "name it with --image-column" in capsys.readouterr().err

    assert client_main([*arguments, "--image-column", "picture"]) == 0

    rows = _results(out, "laion-subset")
    assert [row["key"] for row in rows] == uids
    assert [row["decision"] for row in rows] == EXPECTED
    filtered = hf.load_from_disk(str(kept / "laion-subset"))
    assert filtered["uid"] == [uids[0]] and filtered["text"] == [uids[0]]
    assert json.loads(filtered[0]["consentry_credit"])[0]["artist"] == "Alice Liu"
    assert np.load(kept / "laion-subset.uids.npy").tolist() == [uids[0]]


def test_a_pattern_matching_no_shard_exits_non_zero_with_one_line(
    live_server, acme_key, tmp_path, capsys
):
    pattern = tmp_path / "shards" / "{00000..00003}.tar"
    code = client_main(_command(pattern, live_server.url, acme_key, tmp_path / "out"))

    assert code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "no shard matches the pattern" in error
    assert Screening.objects.count() == 0


def test_the_python_api_decides_batches_for_ray_and_spark(registered, live_server, acme_key):
    images = _images(0)
    options = {"api": live_server.url, "key": acme_key, "purpose": "ai_training"}

    wires = fingerprint_batch(images)
    assert "pdq" in wires[0] and wires[3] == {"unreadable": wires[3]["unreadable"]}

    rows = screen_batch(images, keys=["k0", "k1", "k2", "k3"], **options)
    assert [row["key"] for row in rows] == ["k0", "k1", "k2", "k3"]
    assert [row["decision"] for row in rows] == EXPECTED
    assert [row["passes"] for row in rows] == [True, False, False, False]
    assert json.loads(rows[0]["credit"])[0]["work_id"] == registered["allowed"].pk

    # Ray Data's map_batches hands over a dict of numpy columns and takes one back.
    batch = {"jpg": np.array(images, dtype=object), "key": np.array(["a", "b", "c", "d"])}
    screened = screen_columns(batch, **options)
    assert list(screened["consentry_decision"]) == EXPECTED
    assert list(screened["key"]) == ["a", "b", "c", "d"]

    # Spark's mapInPandas: an iterator of pandas DataFrames in, the same with columns out.
    frames = [pd.DataFrame({"jpg": images[:2]}), pd.DataFrame({"jpg": images[2:]})]
    out = list(screen_pandas(iter(frames), **options, mode="respect_opt_outs"))
    assert [list(frame["consentry_passes"]) for frame in out] == [[True, False], [True, False]]
    assert "could not be decoded" in list(out[1]["consentry_reason"])[1]
    # A worker process keeps its session for the next batch until it exits (atexit); this
    # process goes on, so it lets go of the live server here.
    close_registries()
