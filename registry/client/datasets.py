"""Datasets as AI teams keep them: webdataset `.tar` shards, parquet files with the image bytes
(img2dataset's layouts) and Hugging Face datasets saved with `save_to_disk`.

Every reader streams: a shard is read a sample at a time (tar members, parquet row batches,
memory-mapped Arrow batches), so memory stays flat however large the input. A sample's id is the
dataset's own: `uid`, else `key` (img2dataset), else webdataset's `__key__`, else its row.
"""

import glob
import io
import json
import re
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from registry.client.batch import image_bytes
from registry.fingerprints import MAX_IMAGE_BYTES

IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff")
# img2dataset's parquet image columns, in the order it would write them.
IMAGE_COLUMNS = ("jpg", "png", "webp", "image", "img")
ID_FIELDS = ("uid", "key", "__key__")
ROW_BATCH = 256
# Marks a tar member too large to read, in place of its bytes: "jpg (too large)" -> its size.
OVERSIZED = " (too large)"
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")
SHARD_SUFFIXES = (*((end, "webdataset") for end in TAR_SUFFIXES), (".parquet", "parquet"))
TAR_MAGIC_AT, TAR_MAGIC_END = 257, 262
_BRACE_RANGE = re.compile(r"\{(\d+)\.\.(\d+)\}")
_BRACE_LIST = re.compile(r"\{([^{}]*,[^{}]*)\}")


class DatasetError(ValueError):
    """The input is not a dataset the client reads, with the reason."""


@dataclass(frozen=True)
class Sample:
    key: str
    image: bytes | None
    url: str | None = None
    # Why the sample has no image to fingerprint (no image member, an empty cell...).
    problem: str | None = None
    # webdataset: every member of the sample by extension, kept to write the filtered shard,
    # and the members' own key (__key__), which the id may differ from.
    members: dict[str, bytes] = field(default_factory=dict)
    group: str = ""


@dataclass(frozen=True)
class Shard:
    """One unit of screening: a tar, a parquet file, or one split of a saved HF dataset."""

    name: str
    kind: str  # "webdataset" | "parquet" | "huggingface"
    path: Path
    image_column: str | None = None
    split: str | None = None

    def stamp(self) -> list[int]:
        """Size and modification time: a done marker holds only for the file it was made of."""
        stat = self.path.stat()
        return [stat.st_size, stat.st_mtime_ns]

    def samples(self) -> Iterator[Sample]:
        readers = {"webdataset": _tar_samples, "parquet": _parquet_samples}
        reader = readers.get(self.kind, _hf_samples)
        return _unique(reader(self))


def _unique(samples: Iterator[Sample]) -> Iterator[Sample]:
    # Within one screening every item needs its own id; a repeated key gets a suffix.
    seen: dict[str, int] = {}
    for sample in samples:
        count = seen[sample.key] = seen.get(sample.key, 0) + 1
        yield sample if count == 1 else _renamed(sample, f"{sample.key}#{count}")


def _renamed(sample: Sample, key: str) -> Sample:
    return Sample(key, sample.image, sample.url, sample.problem, sample.members, sample.group)


# --- webdataset -----------------------------------------------------------------------------


def _split_member(name: str) -> tuple[str, str]:
    """webdataset's grouping: the key is the path up to the first dot of the file name."""
    folder, _, base = name.rpartition("/")
    stem, _, extension = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), extension.lower()


def _tar_groups(path: Path) -> Iterator[tuple[str, dict[str, bytes]]]:
    key: str | None = None
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r|*") as archive:
            for member in archive:
                if not member.isfile():
                    continue
                member_key, extension = _split_member(member.name)
                if member_key != key and key is not None:
                    yield key, members
                    members = {}
                key = member_key
                if member.size > MAX_IMAGE_BYTES:
                    # Never read into memory: the fingerprinting would refuse it anyway.
                    members[f"{extension}{OVERSIZED}"] = str(member.size).encode()
                    continue
                extracted = archive.extractfile(member)
                members[extension] = extracted.read() if extracted else b""
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DatasetError(f"{path}: not a readable tar shard ({error})") from None
    if key is not None:
        yield key, members


def _sidecar(members: Mapping[str, bytes]) -> dict[str, Any]:
    try:
        data = json.loads(members.get("json", b"{}"))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _dataset_id(record: Mapping[str, Any], fallback: str) -> str:
    for name in ID_FIELDS:
        value = record.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    return fallback


def _tar_samples(shard: Shard) -> Iterator[Sample]:
    for key, members in _tar_groups(shard.path):
        sidecar = _sidecar(members)
        url = sidecar.get("url")
        found = next((ext for ext in IMAGE_EXTENSIONS if ext in members), None)
        too_large = [name for name in members if name.endswith(OVERSIZED)]
        problem = None
        if too_large:
            problem = (
                f"a member of {int(members[too_large[0]]):,} bytes: larger than the "
                f"{MAX_IMAGE_BYTES:,} bytes an image may have"
            )
        elif found is None:
            problem = f"no image member (members: {', '.join(sorted(members)) or 'none'})"
        yield Sample(
            key=_dataset_id(sidecar, key),
            image=members[found] if found and not too_large else None,
            url=url if isinstance(url, str) and url else None,
            problem=problem,
            members=members,
            group=key,
        )


def write_filtered_tar(shard: Shard, target: Path, credits: Mapping[str, str]) -> None:
    """The shard's passing samples, every member kept, each .json carrying the credit."""
    draft = target.with_name(target.name + ".part")
    with tarfile.open(draft, "w") as archive:
        for sample in _unique(_tar_samples(shard)):
            if sample.key not in credits:
                continue
            members = {n: d for n, d in sample.members.items() if not n.endswith(OVERSIZED)}
            sidecar = _sidecar(members)
            sidecar["consentry_credit"] = json.loads(credits[sample.key])
            members["json"] = json.dumps(sidecar, ensure_ascii=False).encode()
            for extension, data in members.items():
                info = tarfile.TarInfo(f"{sample.group}.{extension}")
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    draft.replace(target)


# --- parquet --------------------------------------------------------------------------------


def image_column_of(schema: pa.Schema, chosen: str | None, source: Path) -> str:
    names = list(schema.names)
    if chosen:
        if chosen not in names:
            raise DatasetError(f"{source}: no column {chosen!r} (columns: {', '.join(names)})")
        return chosen
    for name in IMAGE_COLUMNS:
        if name in names:
            return name
    raise DatasetError(
        f"{source}: no image column (columns: {', '.join(names)}); name it with --image-column"
    )


def _rows_to_samples(
    batch: Mapping[str, list[Any]], image_column: str, first_row: int, prefix: str
) -> Iterator[Sample]:
    images = batch[image_column]
    urls = batch.get("url") or [None] * len(images)
    ids = {name: batch[name] for name in ID_FIELDS if name in batch}
    for offset, cell in enumerate(images):
        record = {name: values[offset] for name, values in ids.items()}
        data = image_bytes(cell)
        url = urls[offset]
        yield Sample(
            key=_dataset_id(record, f"{prefix}{first_row + offset}"),
            image=data,
            url=url if isinstance(url, str) and url else None,
            problem=None if data else f"no image bytes in column {image_column!r}",
        )


def _parquet_samples(shard: Shard) -> Iterator[Sample]:
    source = pq.ParquetFile(shard.path)
    column = image_column_of(source.schema_arrow, shard.image_column, shard.path)
    wanted = [name for name in (column, "url", *ID_FIELDS) if name in source.schema_arrow.names]
    row = 0
    for batch in source.iter_batches(batch_size=ROW_BATCH, columns=wanted):
        yield from _rows_to_samples(batch.to_pydict(), column, row, f"{shard.name}:")
        row += batch.num_rows


def _keys_of(batch: Mapping[str, list[Any]], rows: int, first_row: int, prefix: str) -> list[str]:
    ids = {name: batch[name] for name in ID_FIELDS if name in batch}
    return [
        _dataset_id(
            {name: values[offset] for name, values in ids.items()}, f"{prefix}{first_row + offset}"
        )
        for offset in range(rows)
    ]


def write_filtered_parquet(shard: Shard, target: Path, credits: Mapping[str, str]) -> None:
    """The shard's passing rows with every column, plus `consentry_credit` (a JSON list)."""
    source = pq.ParquetFile(shard.path)
    schema = source.schema_arrow.append(pa.field("consentry_credit", pa.string()))
    draft = target.with_name(target.name + ".part")
    seen: dict[str, int] = {}
    row = 0
    with pq.ParquetWriter(draft, schema) as writer:
        for batch in source.iter_batches(batch_size=ROW_BATCH):
            keys = _keys_of(batch.to_pydict(), batch.num_rows, row, f"{shard.name}:")
            row += batch.num_rows
            keys = [_unique_key(seen, key) for key in keys]
            keep = [key in credits for key in keys]
            kept = batch.filter(pa.array(keep))
            credit = pa.array([credits[key] for key, ok in zip(keys, keep, strict=True) if ok])
            writer.write_batch(pa.RecordBatch.from_arrays([*kept.columns, credit], schema=schema))
    draft.replace(target)


def _unique_key(seen: dict[str, int], key: str) -> str:
    count = seen[key] = seen.get(key, 0) + 1
    return key if count == 1 else f"{key}#{count}"


# --- Hugging Face ---------------------------------------------------------------------------


def _load_hf(shard: Shard, *, decoded: bool = False) -> Any:
    try:
        from datasets import Image, disable_progress_bars, load_from_disk  # optional, heavy
    except ImportError:
        raise DatasetError(
            "reading a Hugging Face dataset needs the `datasets` package (pip install datasets)"
        ) from None
    disable_progress_bars()  # the client prints its own progress, a line per shard
    loaded = load_from_disk(str(shard.path))
    dataset = loaded[shard.split] if shard.split is not None else loaded
    column = image_column_of(dataset.data.schema, shard.image_column, shard.path)
    if decoded:
        return dataset, column
    # Bytes as stored: the client fingerprints them itself and never decodes twice.
    return dataset.cast_column(column, Image(decode=False)), column


def _hf_samples(shard: Shard) -> Iterator[Sample]:
    dataset, column = _load_hf(shard)
    wanted = [name for name in (column, "url", *ID_FIELDS) if name in dataset.column_names]
    row = 0
    for batch in dataset.select_columns(wanted).iter(batch_size=ROW_BATCH):
        yield from _rows_to_samples(batch, column, row, f"{shard.name}:")
        row += len(batch[column])


def _hf_keys(dataset: Any, shard: Shard) -> Iterator[str]:
    ids = [name for name in ID_FIELDS if name in dataset.column_names]
    if not ids:
        yield from (f"{shard.name}:{row}" for row in range(len(dataset)))
        return
    seen: dict[str, int] = {}
    row = 0
    for batch in dataset.select_columns(ids).iter(batch_size=ROW_BATCH * 16):
        rows = len(batch[ids[0]])
        for key in _keys_of(batch, rows, row, f"{shard.name}:"):
            yield _unique_key(seen, key)
        row += rows


def write_filtered_hf(shard: Shard, target: Path, credits: Mapping[str, str]) -> None:
    """The split's passing rows saved with `save_to_disk`, plus `consentry_credit`."""
    dataset, _ = _load_hf(shard)
    rows: list[int] = []
    kept: list[str] = []
    for row, key in enumerate(_hf_keys(dataset, shard)):
        if key in credits:
            rows.append(row)
            kept.append(credits[key])
    original = _load_hf(shard, decoded=True)[0]
    original.select(rows).add_column("consentry_credit", kept).save_to_disk(str(target))


# --- finding shards -------------------------------------------------------------------------


def expand_braces(pattern: str) -> list[str]:
    """webdataset's shard notation, left to right: `shards/{00000..00009}.tar`, `{a,b}.tar`."""
    found = [
        match for match in (_BRACE_RANGE.search(pattern), _BRACE_LIST.search(pattern)) if match
    ]
    if not found:
        return [pattern]
    first = min(found, key=lambda match: match.start())
    if first.re is _BRACE_RANGE:
        low, high = first.group(1), first.group(2)
        width = len(low) if low.startswith("0") else 0
        choices = [str(number).zfill(width) for number in range(int(low), int(high) + 1)]
    else:
        choices = first.group(1).split(",")
    head, tail = pattern[: first.start()], pattern[first.end() :]
    return [expanded for choice in choices for expanded in expand_braces(head + choice + tail)]


def _is_hf_dataset(folder: Path) -> bool:
    return (folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file()


def _hf_shards(folder: Path, image_column: str | None) -> list[Shard]:
    if (folder / "dataset_dict.json").is_file():
        splits = json.loads((folder / "dataset_dict.json").read_text())["splits"]
        return [
            Shard(f"{folder.name}-{split}", "huggingface", folder, image_column, split)
            for split in splits
        ]
    return [Shard(folder.name, "huggingface", folder, image_column)]


def _sniffed_kind(path: Path) -> str | None:
    """A shard named without its usual suffix, recognised by content: parquet starts with
    PAR1, a POSIX tar has "ustar" at byte 257."""
    try:
        with path.open("rb") as file:
            head = file.read(TAR_MAGIC_END)
    except OSError:
        return None
    if head.startswith(b"PAR1"):
        return "parquet"
    if head[TAR_MAGIC_AT:TAR_MAGIC_END] == b"ustar":
        return "webdataset"
    return None


def _file_shard(path: Path, image_column: str | None) -> Shard | None:
    name = path.name.lower()
    kind = next((kind for end, kind in SHARD_SUFFIXES if name.endswith(end)), None)
    kind = kind or _sniffed_kind(path)
    if kind is None:
        return None
    return Shard(_shard_name(path), kind, path, image_column if kind == "parquet" else None)


def _shard_name(path: Path) -> str:
    name = path.name
    for end, _ in SHARD_SUFFIXES:
        if name.lower().endswith(end):
            return name[: -len(end)]
    return path.stem


def _folder_shards(folder: Path, image_column: str | None) -> list[Shard] | None:
    if _is_hf_dataset(folder):
        return _hf_shards(folder, image_column)
    tars = sorted(path for path in folder.glob("*.t*") if path.name.endswith(TAR_SUFFIXES))
    if tars:
        # img2dataset's webdataset output puts a metadata .parquet beside each .tar: not a shard.
        return [Shard(_shard_name(path), "webdataset", path) for path in tars]
    parquets = sorted(folder.glob("*.parquet"))
    if parquets and _holds_images(parquets[0], image_column):
        return [Shard(path.stem, "parquet", path, image_column) for path in parquets]
    # img2dataset's `files` output: metadata .parquet beside folders of images, read as images.
    return None


def _holds_images(path: Path, image_column: str | None) -> bool:
    try:
        names = pq.read_schema(path).names
    except (OSError, pa.ArrowException):
        return False
    return image_column in names if image_column else any(c in names for c in IMAGE_COLUMNS)


def _named_paths(name: str) -> list[Path]:
    if Path(name).exists():
        return [Path(name)]
    if not any(mark in name for mark in "{*?["):
        return [Path(name)]
    paths = [Path(found) for pattern in expand_braces(name) for found in sorted(glob.glob(pattern))]
    if not paths:
        raise DatasetError(f"{name}: no shard matches the pattern")
    return paths


def find_shards(names: Sequence[str], image_column: str | None = None) -> list[Shard] | None:
    """The shards the paths name, or None when they name image files and folders of them (the
    client's other input). Raises DatasetError for a pattern matching nothing or a mix."""
    shards: list[Shard] = []
    plain: list[str] = []
    for name in names:
        for path in _named_paths(name):
            found = _folder_shards(path, image_column) if path.is_dir() else None
            single = _file_shard(path, image_column) if path.is_file() else None
            if found is None and single is None:
                plain.append(str(path))
            else:
                shards += found if found is not None else [single]  # type: ignore[list-item]
    if not shards:
        return None
    if plain:
        raise DatasetError(
            f"{plain[0]}: not a dataset shard; screen image folders and datasets separately"
        )
    return _distinct_names(shards)


def _distinct_names(shards: list[Shard]) -> list[Shard]:
    # Output folders are named after shards: two 00000.tar from two folders need two names.
    counts: dict[str, int] = {}
    named: list[Shard] = []
    for shard in shards:
        count = counts[shard.name] = counts.get(shard.name, 0) + 1
        name = shard.name if count == 1 else f"{shard.name}-{count}"
        named.append(Shard(name, shard.kind, shard.path, shard.image_column, shard.split))
    return named
