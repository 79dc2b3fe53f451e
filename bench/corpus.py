"""The real-art corpus for the benchmarks, built from Debian art packages.

`python -m bench.corpus` downloads the packages with `apt-get download`, unpacks them with
`dpkg -x` under .cache/corpus (gitignored) and writes one copy of every selected work,
capped at 2048 px, with a manifest. Running it again reuses what is there.

The selection keeps one file per work (wallpapers ship many resolutions of one picture)
and records a *family* per work: works of one painter or one series (a wallpaper's light
and dark versions, a set of clip-art hand signs, Van Gogh's paintings). The accuracy
benchmark puts some of each family in the registry and queries the rest as distinct works,
so "other works by the same painter" are part of the false-match count.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent / ".cache" / "corpus"
MAX_SIDE = 2048
MIN_SIDE = 96
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")

PACKAGES = (
    "gnome-backgrounds",
    "mate-backgrounds",
    "plasma-workspace-wallpapers",
    "ukui-wallpapers",
    "lomiri-wallpapers-20.04",
    "sway-backgrounds",
    "debian-edu-artwork-softwaves",
    "palapeli-data",
    "mypaint-data-extras",
    "gcompris-qt-data",
    "tuxpaint-stamps-default",
)

# gcompris ships its pictures inside Qt resource bundles; these hold paintings and photos.
GCOMPRIS_BUNDLES = (
    "details",
    "paintings",
    "erase",
    "explore_farm_animals",
    "explore_monuments",
    "explore_world_animals",
    "explore_world_music",
    "categorization",
    "solar_system",
)

# Clip-art sets whose files are the same drawing in another style (outlined vs filled
# letters, lowercase vs uppercase "o"): identical after normalization, so not distinct works.
# Other alphabets repeat the English letters with marks (O and O-umlaut), and "_mirror"
# files are mirrored copies, which the benchmark already makes as an edit.
TUXPAINT_SKIP = re.compile(
    r"alphabets/(?!english/filled/uppercase)|/cartoon/.*_\d+\.png$|_mirror\.png$"
)
# Works whose PDQ hash, in any of the eight orientations, is this close to one kept before
# are copies of it (the same photo shipped by two packages), not distinct works.
DUPLICATE_PDQ = 31


@dataclass(frozen=True)
class CorpusWork:
    key: str  # stable name, unique
    path: str  # the work's file, relative to ROOT
    source: str  # the Debian package
    kind: str  # "drawing", "painting", "photo", "wallpaper", "texture"
    family: str  # works of one painter or series share it


def build_corpus(root: Path = ROOT) -> list[CorpusWork]:
    manifest = root / "manifest.json"
    if manifest.exists():
        return [CorpusWork(**item) for item in json.loads(manifest.read_text())]
    unpacked = _unpack_packages(root)
    works: list[CorpusWork] = []
    seen: set[str] = set()
    kept_pdq: list[np.ndarray] = []
    for key, source_file, source, kind, family in _select(unpacked):
        work = _store(root, key, source_file, source, kind, family, seen)
        if work is not None and not _is_copy(root / work.path, kept_pdq):
            works.append(work)
    manifest.write_text(json.dumps([asdict(work) for work in works], indent=1))
    return works


def load_corpus(root: Path = ROOT) -> list[CorpusWork]:
    return build_corpus(root)


def _unpack_packages(root: Path) -> Path:
    debs, unpacked = root / "debs", root / "unpacked"
    debs.mkdir(parents=True, exist_ok=True)
    missing = [name for name in PACKAGES if not list(debs.glob(f"{name}_*.deb"))]
    if missing:
        print(f"apt-get download {' '.join(missing)}", file=sys.stderr)
        subprocess.run(["apt-get", "download", *missing], cwd=debs, check=True)
    for name in PACKAGES:
        target = unpacked / name
        if not target.exists():
            (deb,) = debs.glob(f"{name}_*.deb")
            target.mkdir(parents=True)
            subprocess.run(["dpkg", "-x", str(deb), str(target)], check=True)
    _extract_gcompris(unpacked / "gcompris-qt-data", unpacked / "gcompris-extracted")
    return unpacked


Selected = tuple[str, Path, str, str, str]


def _select(unpacked: Path) -> Iterator[Selected]:
    yield from _wallpapers(unpacked)
    yield from _plasma(unpacked / "plasma-workspace-wallpapers")
    yield from _palapeli(unpacked / "palapeli-data")
    yield from _textures(unpacked / "mypaint-data-extras")
    yield from _gcompris(unpacked / "gcompris-extracted")
    yield from _tuxpaint(unpacked / "tuxpaint-stamps-default")


def _images(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
    )


def _wallpapers(unpacked: Path) -> Iterator[Selected]:
    families = {
        "gnome-backgrounds": lambda stem: re.sub(r"-[ld]$", "", stem),
        "mate-backgrounds": lambda stem: re.sub(r"(_\d+x\d+|-.*-no-logo|-Stripes-.*)$", "", stem),
        "ukui-wallpapers": lambda stem: "ukui",
        "lomiri-wallpapers-20.04": lambda stem: "lomiri",
        "sway-backgrounds": lambda stem: re.sub(r"_\d+x\d+(_Portrait)?$", "", stem),
        "debian-edu-artwork-softwaves": lambda stem: "softwaves",
    }
    for package, family_of in families.items():
        by_family: dict[str, list[Path]] = {}
        for path in _images(unpacked / package):
            if path.stat().st_size < 20_000:
                continue
            by_family.setdefault(family_of(path.stem), []).append(path)
        for family, paths in by_family.items():
            pictures = paths if package != "sway-backgrounds" else [max(paths, key=_size)]
            for path in _one_per_picture(pictures):
                yield f"{package}/{path.stem}", path, package, "wallpaper", f"{package}/{family}"


def _size(path: Path) -> int:
    return path.stat().st_size


def _one_per_picture(paths: list[Path]) -> list[Path]:
    """The largest file of each picture that ships at several resolutions."""
    best: dict[str, Path] = {}
    for path in paths:
        name = re.sub(r"[_-]?\d{3,4}x\d{3,4}$", "", path.stem)
        if name not in best or path.stat().st_size > best[name].stat().st_size:
            best[name] = path
    return list(best.values())


def _plasma(package: Path) -> Iterator[Selected]:
    for wallpaper in sorted((package / "usr/share/wallpapers").iterdir()):
        for shade in ("images", "images_dark"):
            files = _images(wallpaper / "contents" / shade)
            if files:
                largest = max(files, key=lambda path: path.stat().st_size)
                key = f"plasma/{wallpaper.name}{'-dark' if shade == 'images_dark' else ''}"
                yield key, largest, package.name, "wallpaper", f"plasma/{wallpaper.name}"


def _palapeli(package: Path) -> Iterator[Selected]:
    for path in _images(package):
        if path.stat().st_size > 50_000:
            yield (
                f"palapeli/{path.parent.name}/{path.stem}",
                path,
                package.name,
                "photo",
                "palapeli",
            )


def _textures(package: Path) -> Iterator[Selected]:
    for path in _images(package):
        yield f"mypaint/{path.stem}", path, package.name, "texture", "mypaint-papers"


def _gcompris(extracted: Path) -> Iterator[Selected]:
    for path in _images(extracted):
        bundle = path.parent.name
        name = path.stem.lower()
        if "gogh" in name or "tanguy" in name or "night_cafe" in name:
            kind, family = "painting", "van-gogh"
        elif "renoir" in name or bundle == "paintings":
            kind, family = "painting", "paintings"
        else:
            kind, family = "photo", f"gcompris/{bundle}"
        yield f"gcompris/{bundle}/{path.stem}", path, "gcompris-qt-data", kind, family


def _tuxpaint(package: Path) -> Iterator[Selected]:
    stamps = package / "usr/share/tuxpaint/stamps"
    for path in _images(stamps):
        relative = path.relative_to(stamps).as_posix()
        if TUXPAINT_SKIP.search(relative) or path.stem.endswith("_thumb"):
            continue
        family = "tuxpaint/" + path.parent.relative_to(stamps).as_posix()
        yield f"tuxpaint/{relative[:-4]}", path, package.name, "drawing", family


def _store(
    root: Path, key: str, path: Path, source: str, kind: str, family: str, seen: set[str]
) -> CorpusWork | None:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest in seen:
        return None
    seen.add(digest)
    with Image.open(path) as image:
        if min(image.size) < MIN_SIDE // 2 or max(image.size) < MIN_SIDE:
            return None
        image.load()
        keeps_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        picture = image.convert("RGBA" if keeps_alpha else "RGB")
    picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    target = root / "works" / (re.sub(r"[^A-Za-z0-9_.-]+", "_", key) + ".png")
    target.parent.mkdir(parents=True, exist_ok=True)
    picture.save(target, "PNG", compress_level=1)
    return CorpusWork(key, target.relative_to(root).as_posix(), source, kind, family)


def _is_copy(path: Path, kept: list[np.ndarray]) -> bool:
    with Image.open(path) as image:
        picture = image.convert("RGBA")
    page = Image.new("RGBA", picture.size, (255, 255, 255, 255))
    flat = Image.alpha_composite(page, picture).convert("RGB")
    flat.thumbnail((512, 512))
    dihedral, _quality = pdqhash.compute_dihedral(np.asarray(flat))
    hashes = np.array(dihedral, dtype=bool)
    if (
        kept
        and (np.stack(kept)[:, None, :] != hashes[None, :, :]).sum(axis=2).min() <= DUPLICATE_PDQ
    ):
        path.unlink()
        return True
    kept.append(hashes[0])
    return False


def _extract_gcompris(package: Path, target: Path) -> None:
    if target.exists():
        return
    for name in GCOMPRIS_BUNDLES:
        bundle = package / "usr/share/gcompris-qt/rcc" / f"{name}.rcc"
        if not bundle.exists():
            continue
        for inner, data in _read_rcc(bundle.read_bytes()):
            if Path(inner).suffix.lower() in IMAGE_SUFFIXES and len(data) > 20_000:
                out = target / name / Path(inner).name
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(data)


def _read_rcc(bundle: bytes) -> Iterator[tuple[str, bytes]]:
    """Files of a Qt resource bundle (format version 2 or 3; zlib or no compression)."""
    magic, version, tree, data, names = struct.unpack(">4sIIII", bundle[:20])
    if magic != b"qres" or version < 2:
        raise ValueError("not a Qt resource bundle of version 2 or later")

    def name_at(offset: int) -> str:
        (length,) = struct.unpack(">H", bundle[names + offset : names + offset + 2])
        start = names + offset + 6
        return bundle[start : start + 2 * length].decode("utf-16-be")

    pending = [(0, "")]
    while pending:
        index, parent = pending.pop()
        entry = tree + 22 * index
        name_offset, flags = struct.unpack(">IH", bundle[entry : entry + 6])
        path = f"{parent}/{name_at(name_offset)}" if index else ""
        if flags & 2:
            count, first = struct.unpack(">II", bundle[entry + 6 : entry + 14])
            pending.extend((child, path) for child in range(first, first + count))
            continue
        (offset,) = struct.unpack(">I", bundle[entry + 10 : entry + 14])
        (size,) = struct.unpack(">I", bundle[data + offset : data + offset + 4])
        raw = bundle[data + offset + 4 : data + offset + 4 + size]
        if flags & 4:
            continue  # zstd: not needed for the bundles read here
        yield path, zlib.decompress(raw[4:]) if flags & 1 else raw


def main() -> None:
    works = build_corpus()
    counts: dict[str, int] = {}
    for work in works:
        counts[work.kind] = counts.get(work.kind, 0) + 1
    print(
        f"{len(works)} works in {ROOT}: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    )


if __name__ == "__main__":
    main()
