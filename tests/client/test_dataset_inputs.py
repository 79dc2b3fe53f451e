"""Which paths the client reads as dataset shards, and how a shard's samples stream out of it.
No server: these are the client's own readers."""

import io
import json
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from registry.client.datasets import DatasetError, expand_braces, find_shards
from registry.demo_art import artwork_bytes


def _tar(path: Path, members: list[tuple[str, bytes]]) -> None:
    with tarfile.open(path, "w") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_brace_patterns_expand_like_webdataset():
    assert expand_braces("s/{00008..00011}.tar") == [f"s/{n:05d}.tar" for n in range(8, 12)]
    assert expand_braces("{a,b}/{1..2}.tar") == ["a/1.tar", "a/2.tar", "b/1.tar", "b/2.tar"]


def test_img2dataset_webdataset_output_is_its_tars_not_their_metadata(tmp_path):
    for name in ("00000", "00001"):
        _tar(tmp_path / f"{name}.tar", [(f"{name}0.jpg", b"x")])
        pq.write_table(pa.table({"key": [name]}), tmp_path / f"{name}.parquet")
        (tmp_path / f"{name}_stats.json").write_text("{}")

    shards = find_shards([str(tmp_path)])

    assert [(shard.name, shard.kind) for shard in shards or []] == [
        ("00000", "webdataset"),
        ("00001", "webdataset"),
    ]


def test_shards_without_their_suffix_are_recognised_by_content_and_images_are_not(tmp_path):
    _tar(tmp_path / "shard", [("k.jpg", b"x")])
    pq.write_table(pa.table({"jpg": [b"x"]}), tmp_path / "table")
    (tmp_path / "photo").write_bytes(artwork_bytes(3))

    assert [s.kind for s in find_shards([str(tmp_path / "shard")]) or []] == ["webdataset"]
    assert [s.kind for s in find_shards([str(tmp_path / "table")]) or []] == ["parquet"]
    assert find_shards([str(tmp_path / "photo")]) is None  # an image: the folder client reads it
    with pytest.raises(DatasetError, match="screen image folders and datasets separately"):
        find_shards([str(tmp_path / "shard"), str(tmp_path / "photo")])


def test_webdataset_samples_group_members_and_take_the_dataset_ids(tmp_path):
    shard = tmp_path / "00000.tar"
    _tar(
        shard,
        [
            ("a/000.jpg", b"image-a"),
            ("a/000.json", json.dumps({"uid": "u-0", "url": "https://x/0.jpg"}).encode()),
            ("a/001.txt", b"caption without an image"),
            ("a/002.webp", b"image-c"),
            ("a/002.json", b"not json"),
        ],
    )

    samples = list((find_shards([str(shard)]) or [])[0].samples())

    assert [(s.key, s.image, s.url) for s in samples] == [
        ("u-0", b"image-a", "https://x/0.jpg"),
        ("a/001", None, None),
        ("a/002", b"image-c", None),
    ]
    assert samples[1].problem == "no image member (members: txt)"


def test_a_parquet_without_an_image_column_names_its_columns(tmp_path):
    pq.write_table(pa.table({"key": ["k"], "caption": ["c"]}), tmp_path / "meta.parquet")
    shard = (find_shards([str(tmp_path / "meta.parquet")]) or [])[0]

    with pytest.raises(DatasetError, match=r"no image column \(columns: key, caption\)"):
        list(shard.samples())


def test_img2dataset_files_output_stays_a_folder_of_images(tmp_path):
    (tmp_path / "00000").mkdir()
    (tmp_path / "00000" / "000000000.jpg").write_bytes(artwork_bytes(3))
    (tmp_path / "00000" / "000000000.json").write_text('{"key": "000000000"}')
    pq.write_table(pa.table({"key": ["000000000"], "url": ["u"]}), tmp_path / "00000.parquet")
    (tmp_path / "00000_stats.json").write_text("{}")

    assert find_shards([str(tmp_path)]) is None


def test_a_folder_of_parquet_with_image_bytes_is_a_dataset(tmp_path):
    for name in ("part-0", "part-1"):
        pq.write_table(pa.table({"key": [name], "png": [b"x"]}), tmp_path / f"{name}.parquet")

    shards = find_shards([str(tmp_path)])

    assert [(shard.name, shard.kind) for shard in shards or []] == [
        ("part-0", "parquet"),
        ("part-1", "parquet"),
    ]


def test_compressed_shards_are_read_as_they_stream(tmp_path):
    with tarfile.open(tmp_path / "00000.tar.gz", "w:gz") as archive:
        for name, data in (("k0.png", b"png"), ("k0.json", b'{"key": "k0"}')):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))

    shards = find_shards([str(tmp_path)]) or []

    assert [(shard.name, shard.kind) for shard in shards] == [("00000", "webdataset")]
    assert [(s.key, s.image) for s in shards[0].samples()] == [("k0", b"png")]


def test_each_split_of_a_saved_dataset_dict_is_a_shard_with_the_dataset_ids(tmp_path):
    hf = pytest.importorskip("datasets")
    images = [{"bytes": artwork_bytes(seed), "path": None} for seed in (1, 2)]
    train = hf.Dataset.from_dict({"key": ["t0", "t1"], "image": images})
    test = hf.Dataset.from_dict({"image": images[:1]})  # no id column: the row names it
    splits = hf.DatasetDict({"train": train, "test": test}).cast_column("image", hf.Image())
    splits.save_to_disk(str(tmp_path / "set"))

    shards = find_shards([str(tmp_path / "set")]) or []

    assert [(shard.name, shard.split) for shard in shards] == [
        ("set-train", "train"),
        ("set-test", "test"),
    ]
    assert [s.key for s in shards[0].samples()] == ["t0", "t1"]
    assert [(s.key, s.image) for s in shards[1].samples()] == [("set-test:0", artwork_bytes(1))]


def test_a_member_too_large_to_be_an_image_is_never_read(tmp_path, monkeypatch):
    monkeypatch.setattr("registry.client.datasets.MAX_IMAGE_BYTES", 1000)
    _tar(tmp_path / "00000.tar", [("big.jpg", b"x" * 1001), ("small.jpg", b"x" * 1000)])

    samples = list((find_shards([str(tmp_path)]) or [])[0].samples())

    assert [(s.key, s.image) for s in samples] == [("big", None), ("small", b"x" * 1000)]
    assert (
        samples[0].problem
        == "a member of 1,001 bytes: larger than the 1,000 bytes an image may have"
    )
