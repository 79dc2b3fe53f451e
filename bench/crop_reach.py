"""How far a crop may sit from a registered crop variant and still match:
`python -m bench.crop_reach [--corpus FOLDER] [--works N]`.

The registered deep crops (variants.DEEP_KEEPS, DEEP_OFFSET) are spaced by this reach, not by
any evaluation set's edits; so would 16:9 windows be (measured, not registered: see
docs/matching.md, "Version 4"). For every Nth work of the first corpus (bench.corpus: not
an evaluation set), the variant is made from the work as registered, and queries are the same
crop of its web copy moved by a share of the picture's side (one axis, or both), re-encoded as
JPEG: the share of works whose query the index finds (pHash within `phash_radius`) and the
verification accepts (rules.verify, as the variant), at each shift.
"""

from __future__ import annotations

import argparse
import io
import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from bench.accuracy.edits import web_copy
from registry.fingerprints import ImageDecodeError, decode_image, fingerprint_work
from registry.fingerprints.decode import DecodedImage, trim_borders
from registry.fingerprints.hashing import Hashes, hash_image
from registry.matching.rules import DEFAULT_MATCHING, is_weak, verify

WIDE = 16 / 9
SHIFTS = (0.0, 0.01, 0.02, 0.03, 0.045, 0.06, 0.08, 0.10)
Crop = Callable[[Image.Image, float], Image.Image | None]


def _window(image: Image.Image, aspect: float, position: float) -> Image.Image:
    """The widest window of `aspect` (width / height), `position` of the way along the axis it
    can slide on."""
    width, height = image.size
    if width / height < aspect:
        kept = round(width / aspect)
        top = round((height - kept) * position)
        return image.crop((0, top, width, top + kept))
    kept = round(height * aspect)
    left = round((width - kept) * position)
    return image.crop((left, 0, left + kept, height))


def centre(keep: float, both: bool) -> Crop:
    def crop(image: Image.Image, shift: float) -> Image.Image | None:
        width, height = image.size
        kept_w, kept_h = round(width * keep), round(height * keep)
        left = round((width - kept_w) / 2 + shift * width)
        top = round((height - kept_h) / 2 + (shift * height if both else 0))
        return image.crop((left, top, left + kept_w, top + kept_h))

    return crop


def window(position: float) -> Crop:
    def crop(image: Image.Image, shift: float) -> Image.Image | None:
        width, height = image.size
        whole = _window(image, WIDE, position)
        if whole.size == image.size:
            return None
        long_side = height if width / height < WIDE else width
        slack = long_side - (whole.height if width / height < WIDE else whole.width)
        if slack < 0.2 * long_side:
            return None  # too little travel to tell positions apart
        moved = min(1.0, position + shift * long_side / slack)
        return _window(image, WIDE, moved)

    return crop


def _shifted(image: Image.Image, keep: float, dx: float, dy: float) -> Image.Image:
    width, height = image.size
    kept_w, kept_h = round(width * keep), round(height * keep)
    left = min(max(0, round((width - kept_w) / 2 + dx * width)), width - kept_w)
    top = min(max(0, round((height - kept_h) / 2 + dy * height)), height - kept_h)
    return image.crop((left, top, left + kept_w, top + kept_h))


def gated_works(corpus: Path, count: int) -> Iterator[tuple[bytes, DecodedImage]]:
    """Every Nth work of the first corpus, `count` in all, as bytes and decoded, less those the
    decoder or the weak-image gate refuses (such a work is registered for exact copies only)."""
    manifest = json.loads((corpus / "manifest.json").read_text())
    step = max(1, len(manifest) // count)
    for work in manifest[::step][:count]:
        data = (corpus / work["path"]).read_bytes()
        try:
            decoded = decode_image(data)
        except ImageDecodeError:
            continue
        if not is_weak(fingerprint_work(data).image):
            yield data, decoded


def query_hashes(image: Image.Image) -> Hashes:
    """A re-post's whole-query hashes: the picture re-encoded as JPEG, decoded and trimmed."""
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return hash_image(decode_image(out.getvalue()).trimmed)


def _accepts(query: Hashes, registered: list[Hashes], variant: str) -> bool:
    for hashes in registered:
        verdict = verify(query, hashes, DEFAULT_MATCHING, variant=variant)
        near = (
            verdict.distances["phash"] <= DEFAULT_MATCHING.phash_radius
            or verdict.distances["dhash"] <= DEFAULT_MATCHING.dhash_radius
        )
        if verdict.matched and near:
            return True
    return False


# Centre crops: variants at these offsets (a share of the side) on each axis.
CENTRE_LAYOUTS = {
    "centre": (0.0,),
    "2x2 at +-1.5%": (-0.015, 0.015),
    "3x3 at 0, +-2%": (-0.02, 0.0, 0.02),
}
WINDOW_LAYOUTS = {
    "middle": (0.5,),
    "0, 1/2, 1": (0.0, 0.5, 1.0),
    "5 evenly": (0.0, 0.25, 0.5, 0.75, 1.0),
    "9 evenly": tuple(i / 8 for i in range(9)),
}


def layouts(corpus: Path, count: int, draws: int, jitter: float) -> None:
    """Recall of each layout on crops drawn as the issue defines them: centre keeps of 70% and
    50% with the centre off by up to `jitter` of the side on each axis, and the widest 16:9
    window anywhere along its axis."""
    rng = np.random.default_rng(7)
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for data, decoded in gated_works(corpus, count):
        untrimmed = decoded.untrimmed
        web = web_copy(Image.open(io.BytesIO(data)))
        for keep in (0.7, 0.5):
            registered = {
                (dx, dy): hash_image(trim_borders(_shifted(untrimmed, keep, dx, dy)))
                for offsets in CENTRE_LAYOUTS.values()
                for dx in offsets
                for dy in offsets
            }
            for _ in range(draws):
                dx, dy = (
                    rng.uniform(0, jitter) * rng.choice((-1, 1)),
                    rng.uniform(0, jitter) * rng.choice((-1, 1)),
                )
                query = query_hashes(_shifted(web, keep, dx, dy))
                for name, offsets in CENTRE_LAYOUTS.items():
                    key = f"centre {keep:.0%}, {name} ({len(offsets) ** 2})"
                    totals[key] += 1
                    hits[key] += _accepts(
                        query,
                        [registered[x, y] for x in offsets for y in offsets],
                        "crop_centre_50",
                    )
        if _window(web, WIDE, 0.0).size == web.size:
            continue
        positions = sorted({p for ps in WINDOW_LAYOUTS.values() for p in ps})
        windows = {p: hash_image(trim_borders(_window(untrimmed, WIDE, p))) for p in positions}
        for _ in range(draws):
            where = float(rng.uniform(0, 1))
            query = query_hashes(_window(web, WIDE, where))
            for name, chosen in WINDOW_LAYOUTS.items():
                key = f"16:9, {name} ({len(chosen)})"
                totals[key] += 1
                hits[key] += _accepts(query, [windows[p] for p in chosen], "crop_16x9_0")
    for key in totals:
        print(f"{key:<36}{totals[key]:>6}{hits[key] / totals[key]:>8.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path(".cache/corpus"))
    parser.add_argument("--works", type=int, default=120)
    parser.add_argument("--layouts", action="store_true", help="compare variant layouts")
    parser.add_argument("--draws", type=int, default=3, help="--layouts: crops drawn a work")
    parser.add_argument("--jitter", type=float, default=0.03)
    args = parser.parse_args()
    if args.layouts:
        layouts(args.corpus, args.works, args.draws, args.jitter)
        return
    crops: dict[str, tuple[str, Crop]] = {
        "centre 70%, one axis": ("crop_centre_70", centre(0.70, both=False)),
        "centre 70%, both axes": ("crop_centre_70", centre(0.70, both=True)),
        "centre 50%, one axis": ("crop_centre_50", centre(0.50, both=False)),
        "centre 50%, both axes": ("crop_centre_50", centre(0.50, both=True)),
        "16:9 window from 0": ("crop_16x9", window(0.0)),
        "16:9 window from 50%": ("crop_16x9", window(0.5)),
    }
    found = {name: [0] * len(SHIFTS) for name in crops}
    near = {name: [0] * len(SHIFTS) for name in crops}
    verified = {name: [0] * len(SHIFTS) for name in crops}
    either = {name: [0] * len(SHIFTS) for name in crops}
    counted = dict.fromkeys(crops, 0)
    for data, decoded in gated_works(args.corpus, args.works):
        web = web_copy(Image.open(io.BytesIO(data)))
        for name, (variant, crop) in crops.items():
            made = crop(decoded.untrimmed, 0.0)
            if made is None or crop(web, 0.0) is None:
                continue
            # Made as variants.py makes a crop: from the picture as published, then trimmed.
            registered = hash_image(trim_borders(made))
            counted[name] += 1
            for position, shift in enumerate(SHIFTS):
                moved = crop(web, shift)
                if moved is None:
                    continue
                query = query_hashes(moved)
                verdict = verify(query, registered, DEFAULT_MATCHING, variant=variant)
                by_phash = verdict.distances["phash"] <= DEFAULT_MATCHING.phash_radius
                found[name][position] += verdict.matched and by_phash
                near[name][position] += by_phash
                verified[name][position] += verdict.matched
                by_dhash = verdict.distances["dhash"] <= DEFAULT_MATCHING.dhash_radius
                either[name][position] += verdict.matched and (by_phash or by_dhash)
    print(
        f"{'crop (shift as a share of the side)':<28}{'works':>6}"
        + "".join(f"{shift:>7.1%}" for shift in SHIFTS)
    )
    for name in crops:
        n = counted[name]
        for label, counts in (
            ("", found),
            (" pHash", near),
            (" verify", verified),
            (" or dHash", either),
        ):
            print(
                f"{name + label:<28}{n:>6}"
                + "".join(f"{hits / max(n, 1):>7.0%}" for hits in counts[name])
            )


if __name__ == "__main__":
    main()
