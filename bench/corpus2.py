"""The second real-art corpus: `python -m bench.corpus2` (held out from tuning; docs/matching.md).

Built from Debian packages that bench/corpus.py does not use: PNG icon themes, flags, 2D
game sprites and backgrounds, painted game portraits, clip art, colouring-book line
drawings and photos. `apt-get download` and `dpkg -x` into .cache/corpus2 (gitignored).

Two products, both cached:
- the *pool*: every distinct picture found (one file per picture: an icon theme ships each
  icon at several sizes, the largest is kept), with its family and kind of art. The
  collision benchmark (bench.collisions) hashes all of it.
- the *corpus*: a sample of the pool for the accuracy benchmark, at most FAMILY_CAP works a
  family, copies removed (PDQ within DUPLICATE_PDQ in any orientation of a kept work), split
  by family into DEV and HOLDOUT (tune on DEV, report acceptance on HOLDOUT), and within a
  family into registered and distinct works, so that works cut from one template (icons of
  one set, flags, letters) are on both sides of the registry.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image

from bench.corpus import PACKAGES as FIRST_CORPUS_PACKAGES

ROOT = Path(__file__).resolve().parent.parent / ".cache" / "corpus2"
MAX_SIDE = 1024
MIN_LONG_SIDE = 96
MIN_SHORT_SIDE = 40
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
FAMILY_CAP = 12
# Posters of 100+ megapixels (some clip art) take minutes to decode on a shared machine, and
# a re-post is never that large: they stay in the pool (collisions) but not in the corpus.
MAX_SOURCE_PIXELS = 16_000_000
DUPLICATE_PDQ = 31
# Kinds of art that are flat graphics: few colours, large plain areas, often on white.
FLAT_KINDS = frozenset({"icon", "flag", "sprite", "line", "clipart"})

ICON_THEMES = (
    "oxygen-icon-theme",
    "gnome-icon-theme-gartoon",
    "lxde-icon-theme",
    "tango-icon-theme",
    "gnome-icon-theme-nuovo",
    "gnome-icon-theme-yasis",
    "mate-icon-theme",
    "gnome-colors-common",
    "faenza-icon-theme",
    "moka-icon-theme",
)
GAMES = (
    "frozen-bubble-data",
    "pingus-data",
    "freedroid-data",
    "wesnoth-1.16-data",
    "hedgewars-data",
    "lincity-ng-data",
)
PHOTOS = ("jigzo-data", "lomiri-wallpapers-16.04", "debian-edu-artwork-spacefun")
PACKAGES = (
    *ICON_THEMES,
    *GAMES,
    *PHOTOS,
    "iso-flags-png-320x240",
    "openclipart-png",
    "tuxpaint-data",
    "debian-edu-artwork-emerald",
)
assert not set(PACKAGES) & set(FIRST_CORPUS_PACKAGES), "corpus2 must use other packages"

SIZE_DIR = re.compile(r"^(\d+x\d+|\d+|scalable|@2x)$")


@dataclass(frozen=True)
class PoolPicture:
    key: str  # stable id, unique
    source: str  # the unpacked file, relative to ROOT
    package: str
    kind: str  # icon, flag, sprite, background, painting, line, clipart, photo, wallpaper
    family: str


@dataclass(frozen=True)
class CorpusWork:
    key: str
    path: str  # the stored copy (PNG, at most MAX_SIDE), relative to ROOT
    kind: str
    family: str
    part: str  # "dev" or "holdout": decided by the family
    split: str  # "registered" or "distinct": decided by the work


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:4], "big")  # noqa: S324 - a split


def part_of(family: str) -> str:
    return "dev" if _digest("part:" + family) % 2 == 0 else "holdout"


def split_of(key: str) -> str:
    return "registered" if _digest("split:" + key) % 2 == 0 else "distinct"


# -- unpacking ---------------------------------------------------------------------------------


def unpack(root: Path = ROOT) -> Path:
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
            partial = unpacked / f"{name}.partial"
            partial.mkdir(parents=True, exist_ok=True)
            subprocess.run(["dpkg", "-x", str(deb), str(partial)], check=True)
            partial.rename(target)
    return unpacked


def _files(folder: Path) -> list[Path]:
    # Icon themes alias one icon under many names with symbolic links: one file is enough.
    return sorted(
        path
        for path in folder.rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file() and not path.is_symlink()
    )


# -- the pool ----------------------------------------------------------------------------------


def _icons(unpacked: Path, package: str) -> Iterator[tuple[str, Path, str, str]]:
    """One file per (theme, context, icon name): the largest size the theme ships."""
    best: dict[tuple[str, str, str], Path] = {}
    for path in _files(unpacked / package):
        parts = path.relative_to(unpacked / package).parts
        if "icons" not in parts:
            continue
        inside = parts[parts.index("icons") + 1 : -1]
        if not inside:
            continue
        theme = inside[0]
        contexts = [part for part in inside[1:] if not SIZE_DIR.match(part)]
        context = contexts[-1] if contexts else "misc"
        name = (theme, context, path.stem)
        if name not in best or path.stat().st_size > best[name].stat().st_size:
            best[name] = path
    for (theme, context, stem), path in sorted(best.items()):
        yield f"{package}/{theme}/{context}/{stem}", path, "icon", f"{theme}/{context}"


def _game(unpacked: Path, package: str) -> Iterator[tuple[str, Path, str, str]]:
    base = unpacked / package
    for path in _files(base):
        relative = path.relative_to(base).as_posix()
        folder = path.parent.relative_to(base).as_posix()
        lowered = relative.lower()
        if "portraits" in lowered:
            kind = "painting"
        elif "background" in lowered or "/maps/" in lowered or "story" in lowered:
            kind = "background"
        else:
            kind = "sprite"
        yield f"{package}/{relative.rsplit('.', 1)[0]}", path, kind, f"{package}/{folder}"


def _plain(
    unpacked: Path, package: str, kind: str, family_depth: int = 1
) -> Iterator[tuple[str, Path, str, str]]:
    base = unpacked / package
    for path in _files(base):
        relative = path.relative_to(base).as_posix()
        folder = path.parent.relative_to(base).parts[-family_depth:]
        family = f"{package}/{'/'.join(folder)}"
        yield f"{package}/{relative.rsplit('.', 1)[0]}", path, kind, family


def _flags(unpacked: Path) -> Iterator[tuple[str, Path, str, str]]:
    package = "iso-flags-png-320x240"
    for path in _files(unpacked / package):
        # One family per initial letter: flags share templates (stripes, crosses) across
        # countries, and the DEV/HOLDOUT split needs more than one family to cut.
        yield f"flags/{path.stem}", path, "flag", f"flags/{path.stem[:1]}"


def _tuxpaint(unpacked: Path) -> Iterator[tuple[str, Path, str, str]]:
    base = unpacked / "tuxpaint-data"
    for path in _files(base):
        relative = path.relative_to(base).as_posix()
        if "/starters/" in relative:
            if path.stem.endswith(("-back", "_back")):
                continue
            kind = "line"
        elif "/templates/" in relative:
            kind = "photo"
        else:
            continue
        yield f"tuxpaint-data/{path.stem}", path, kind, f"tuxpaint-data/{kind}"


def _candidates(unpacked: Path) -> Iterator[tuple[str, Path, str, str, str]]:
    for package in ICON_THEMES:
        for key, path, kind, family in _icons(unpacked, package):
            yield key, path, package, kind, family
    for package in GAMES:
        for key, path, kind, family in _game(unpacked, package):
            yield key, path, package, kind, family
    for package in PHOTOS:
        for key, path, _kind, family in _plain(unpacked, package, "photo"):
            yield key, path, package, "photo", family
    for key, path, kind, family in _plain(unpacked, "debian-edu-artwork-emerald", "wallpaper"):
        yield key, path, "debian-edu-artwork-emerald", kind, family
    for key, path, kind, family in _plain(unpacked, "openclipart-png", "clipart", 2):
        yield key, path, "openclipart-png", kind, family
    for key, path, kind, family in _flags(unpacked):
        yield key, path, "iso-flags-png-320x240", kind, family
    for key, path, kind, family in _tuxpaint(unpacked):
        yield key, path, "tuxpaint-data", kind, family


def build_pool(root: Path = ROOT) -> list[PoolPicture]:
    """Every distinct picture: readable, big enough, not a byte copy of one seen before."""
    manifest = root / "pool.json"
    if manifest.exists():
        return [PoolPicture(**item) for item in json.loads(manifest.read_text())]
    unpacked = unpack(root)
    seen: set[str] = set()
    pool: list[PoolPicture] = []
    for key, path, package, kind, family in _candidates(unpacked):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        try:
            with Image.open(path) as image:
                width, height = image.size
        except (OSError, ValueError, Image.DecompressionBombError):
            continue
        if max(width, height) < MIN_LONG_SIDE or min(width, height) < MIN_SHORT_SIDE:
            continue
        if kind == "clipart" and _is_line_art(path):
            kind = "line"
        source = path.relative_to(root).as_posix()
        pool.append(PoolPicture(key, source, package, kind, family))
    manifest.write_text(json.dumps([asdict(p) for p in pool], indent=0))
    return pool


def _is_line_art(path: Path) -> bool:
    """Clip art drawn in black or grey on white (or transparent): almost no colour."""
    picture = flatten(path, 128)
    pixels = np.asarray(picture.convert("HSV"), dtype=np.int16)
    inked = pixels[..., 2] < 200
    return bool(inked.mean() > 0.01 and (pixels[..., 1][inked] > 60).mean() < 0.05)


def flatten(path: Path, largest: int = MAX_SIDE) -> Image.Image:
    """The picture on white, RGB, at most `largest` a side: as it is seen on a page."""
    with Image.open(path) as image:
        image.load()
        if image.mode in ("RGBA", "LA", "PA", "P") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            page = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            picture = Image.alpha_composite(page, rgba).convert("RGB")
        else:
            picture = image.convert("RGB")
    picture.thumbnail((largest, largest), Image.Resampling.LANCZOS)
    return picture


# -- the accuracy corpus -----------------------------------------------------------------------


def build_corpus(part: str, root: Path = ROOT, processes: int = 2) -> list[CorpusWork]:
    """The works of one part ("dev" or "holdout"), built on first use."""
    manifest = root / f"corpus-{part}.json"
    if manifest.exists():
        return [CorpusWork(**item) for item in json.loads(manifest.read_text())]
    pool = build_pool(root)
    by_family: dict[str, list[PoolPicture]] = {}
    for picture in pool:
        if part_of(picture.family) != part:
            continue
        if _pixels(root / picture.source) <= MAX_SOURCE_PIXELS:
            by_family.setdefault(picture.family, []).append(picture)
    chosen = [
        picture
        for family in sorted(by_family)
        for picture in sorted(by_family[family], key=lambda p: _digest("pick:" + p.key))[
            :FAMILY_CAP
        ]
    ]
    jobs = [(str(root), picture) for picture in chosen]
    with multiprocessing.Pool(processes) as workers:
        stored = workers.map(_store, jobs, chunksize=8)
    works: list[CorpusWork] = []
    kept: list[np.ndarray] = []
    for picture, (path, words) in zip(chosen, stored, strict=True):
        if _is_copy(words, kept):
            continue
        works.append(
            CorpusWork(
                key=picture.key,
                path=path,
                kind=picture.kind,
                family=picture.family,
                part=part_of(picture.family),
                split=split_of(picture.key),
            )
        )
    manifest.write_text(json.dumps([asdict(work) for work in works], indent=0))
    return works


def _pixels(path: Path) -> int:
    with Image.open(path) as image:
        return image.width * image.height


def _store(job: tuple[str, PoolPicture]) -> tuple[str, np.ndarray]:
    """The stored copy (kept transparency, at most MAX_SIDE) and its eight PDQ hashes on white."""
    root, picture = Path(job[0]), job[1]
    target = root / "works" / (re.sub(r"[^A-Za-z0-9_.-]+", "_", picture.key) + ".png")
    if target.exists():
        with Image.open(target) as image:
            image.load()
            stored = image.copy()
    else:
        with Image.open(root / picture.source) as image:
            image.load()
            keeps_alpha = image.mode in ("RGBA", "LA", "PA", "P") or "transparency" in image.info
            stored = image.convert("RGBA" if keeps_alpha else "RGB")
        stored.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial.png")
        stored.save(partial, "PNG", compress_level=1)
        partial.rename(target)
    # PDQ reads a 64x64 summary: 256 px is plenty for a copy check, and much cheaper.
    small = stored.convert("RGBA")
    small.thumbnail((256, 256), Image.Resampling.BILINEAR)
    page = Image.new("RGBA", small.size, (255, 255, 255, 255))
    flat = Image.alpha_composite(page, small).convert("RGB")
    dihedral, _quality = pdqhash.compute_dihedral(np.asarray(flat))
    words = np.packbits(np.array(dihedral, dtype=np.uint8), axis=1).view(np.uint64)  # (8, 4)
    return target.relative_to(root).as_posix(), words


def _is_copy(words: np.ndarray, kept: list[np.ndarray]) -> bool:
    """Within DUPLICATE_PDQ of a kept picture in any of the eight orientations."""
    if kept:
        stack = np.stack(kept)  # (n, 4)
        distances = np.bitwise_count(stack[:, None, :] ^ words[None, :, :]).sum(axis=2)
        if distances.min() <= DUPLICATE_PDQ:
            return True
    kept.append(words[0])
    return False


def describe(works: list[CorpusWork]) -> str:
    lines = []
    for part in ("dev", "holdout"):
        mine = [work for work in works if work.part == part]
        kinds = Counter(work.kind for work in mine)
        splits = Counter(work.split for work in mine)
        families = len({work.family for work in mine})
        lines.append(
            f"{part}: {len(mine)} works in {families} families, "
            f"{splits['registered']} registered / {splits['distinct']} distinct; "
            + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.corpus2", description=__doc__)
    parser.add_argument("--pool-only", action="store_true", help="stop after the pool")
    parser.add_argument("--part", choices=("dev", "holdout", "both"), default="both")
    args = parser.parse_args()
    pool = build_pool()
    kinds = Counter(picture.kind for picture in pool)
    print(
        f"pool: {len(pool)} pictures in {len({p.family for p in pool})} families: "
        + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    )
    if not args.pool_only:
        parts = ("dev", "holdout") if args.part == "both" else (args.part,)
        print(describe([work for part in parts for work in build_corpus(part)]))


if __name__ == "__main__":
    main()
