"""Why a work inside a bigger picture is missed: `python -m bench.regions_reach --eval FOLDER`.

For every query of an evaluation set whose manifest records where the work sits in it
(composite: "box"; collage_2x2: "slot", "gap", "cell"; screenshot: "box"), the registry's
item decision (rules.verify_item, as bench.accuracy runs it) says whether the work was
found, and a miss is put in the first class that explains it:

  gate         the work or the query is refused by the weak-image gate (or undecodable);
  over_budget  the item has more candidates than its verification budget;
  no_region    no box the query side considers (the cut's pieces, the pasted rectangles, all
               of them, before any limit) overlaps the work's place by SAME_PLACE
               (intersection over union);
  dropped      such a box was considered but not kept as a region: implausible (size,
               elongation), flat, a near duplicate of a kept one, or past MAX_REGIONS;
  far          a kept region is in place, but its pHash is farther than the candidate radius
               from every registered variant it may match (regions never match crops);
  refused      a kept region in place is a candidate, and the verification refuses it;
  other        found by none of the above (matched to another work only, and the like).

Beside each miss, whether the true box itself (cropped from the same frame, trimmed and
hashed as a region is) would be a candidate and verify ("oracle"): a miss of class no_region
or dropped whose oracle fails would not be found by a better box either.

Regions are recomputed from the files with the code as it is when the bench runs; the item
decision uses the fingerprints bench.accuracy cached, which the same code made.
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.accuracy.__main__ import Registry, build_registry, consentry_item
from bench.accuracy.dataset import Query
from bench.accuracy.external import load_evalset, read_manifest
from registry.fingerprints import VARIANTS, ImageDecodeError, decode_image
from registry.fingerprints.decode import WORK_SIZE, shrink, trim_borders
from registry.fingerprints.hashing import Hashes, hash_region
from registry.fingerprints.regions import (
    FLAT,
    MAX_REGIONS,
    SAME_BOX,
    _cut_pieces,
    _edge_rectangles,
    _overlap,
    _plausible,
    query_regions,
)
from registry.matching.matcher import VARIANT_NUMBER
from registry.matching.rules import DEFAULT_MATCHING, MatchingConfig, is_weak, verify

Box = tuple[int, int, int, int]
# A region is in the work's place when it overlaps it this much (intersection over union).
SAME_PLACE = 0.85
CLASSES = (
    "found",
    "gate",
    "over_budget",
    "no_region",
    "dropped",
    "far",
    "refused",
    "other",
)


@dataclass(frozen=True)
class Diagnosis:
    edit: str
    path: str
    cause: str  # one of CLASSES
    detail: str  # why dropped, or the nearest pHash distance
    best_overlap: float  # of any considered box with the work's place
    oracle: bool  # the true box, hashed as a region, is a candidate and verifies


def work_box(line: dict[str, Any], size: tuple[int, int]) -> Box | None:
    """Where the work sits in the query, in the query's pixels, from the manifest's
    parameters; None for an edit that does not record it."""
    params = line["params"]
    if line["edit"] in ("composite", "screenshot"):
        left, top, right, bottom = params["box"]
        return left, top, right, bottom
    if line["edit"].startswith("collage"):
        slot, gap = params["slot"], params["gap"]
        cell_w, cell_h = params["cell"]
        left = gap + (slot % 2) * (cell_w + gap)
        top = gap + (slot // 2) * (cell_h + gap)
        return left, top, left + cell_w, top + cell_h
    return None


def _scaled(box: Box, size: tuple[int, int], to: tuple[int, int]) -> Box:
    (width, height), (new_w, new_h) = size, to
    return (
        round(box[0] * new_w / width),
        round(box[1] * new_h / height),
        round(box[2] * new_w / width),
        round(box[3] * new_h / height),
    )


def _registered(registry: Registry, work: int) -> list[tuple[str, Hashes]]:
    """The work's variants a region may match (regions never match registered crops)."""
    return [
        (name, registry.hashes[work, VARIANT_NUMBER[name]])
        for name in VARIANTS
        if (work, VARIANT_NUMBER[name]) in registry.hashes and not name.startswith("crop_")
    ]


def _nearest(hashes: Hashes, variants: list[tuple[str, Hashes]]) -> int:
    return min((hashes.phash ^ h.phash).bit_count() for _, h in variants)


def _verifies(hashes: Hashes, variants: list[tuple[str, Hashes]], config: MatchingConfig) -> bool:
    return any(
        (hashes.phash ^ h.phash).bit_count() <= config.phash_radius
        and verify(hashes, h, config, region=True, variant=name).matched
        for name, h in variants
    )


def _kept_boxes(grey: np.ndarray, considered: list[Box], was_trimmed: bool) -> dict[Box, str]:
    """Why each considered box was or was not kept, following regions.query_regions."""
    height, width = grey.shape
    reasons: dict[Box, str] = {}
    kept: list[Box] = []
    slots = MAX_REGIONS - int(was_trimmed)
    for box in considered:
        if box in reasons:
            continue
        if not _plausible(box, width, height):
            reasons[box] = "implausible"
        elif any(_overlap(box, other) >= SAME_BOX for other in kept):
            reasons[box] = "duplicate"
        elif grey[box[1] : box[3], box[0] : box[2]].std() < FLAT:
            reasons[box] = "flat"
        elif len(kept) >= slots:
            reasons[box] = "limit"
        else:
            kept.append(box)
            reasons[box] = "kept"
    return reasons


def diagnose(
    line: dict[str, Any],
    query: Query,
    registry: Registry,
    weak: set[int],
    config: MatchingConfig = DEFAULT_MATCHING,
) -> Diagnosis | None:
    """The class of one query's outcome (CLASSES); None when the manifest has no box."""
    data = Path(line["path"]).read_bytes()
    with Image.open(line["path"]) as image:
        size = image.size
    truth = work_box(line, size)
    if truth is None or query.work is None:
        return None
    edit, path = line["edit"], line["path"]
    item = consentry_item(query, registry, config)
    matched = {work for work, (_, verdict) in item.matched.items() if verdict.matched}
    try:
        decoded = decode_image(data)
    except ImageDecodeError:
        return Diagnosis(edit, path, "gate", "undecodable", 0.0, False)
    frame = shrink(decoded.decoded, 2 * WORK_SIZE)
    grey = np.asarray(frame.convert("L"), dtype=np.float32)
    place = _scaled(truth, size, frame.size)
    considered = [box for box, _ in _cut_pieces(grey)] + _edge_rectangles(grey)
    best = max((_overlap(box, place) for box in considered), default=0.0)
    variants = _registered(registry, query.work)
    true_region = hash_region(shrink(trim_borders(frame.crop(place)), WORK_SIZE))
    oracle = bool(variants) and _verifies(true_region, variants, config)

    def result(cause: str, detail: str = "") -> Diagnosis:
        return Diagnosis(edit, path, cause, detail, round(best, 3), oracle)

    if not item.over_budget and query.work in matched:
        return result("found")
    if query.work in weak or query.fingerprint is None or is_weak(query.fingerprint, config):
        return result("gate")
    if item.over_budget:
        return result("over_budget")
    in_place = [
        region
        for region in query_regions(decoded)
        if _overlap(_scaled(region.box, (1000, 1000), frame.size), place) >= SAME_PLACE
    ]
    if not in_place:
        if best < SAME_PLACE:
            return result("no_region")
        reasons = _kept_boxes(grey, _ranked_boxes(grey, considered), decoded.was_trimmed)
        why = {reasons[box] for box in considered if _overlap(box, place) >= SAME_PLACE}
        return result("dropped", ",".join(sorted(why)))
    hashes = [hash_region(region.image) for region in in_place]
    nearest = min(_nearest(h, variants) for h in hashes) if variants else 64
    if nearest > config.phash_radius:
        return result("far", f"pHash {nearest}")
    if not any(_verifies(h, variants, config) for h in hashes):
        return result("refused", f"pHash {nearest}")
    return result("other", f"pHash {nearest}")


def _ranked_boxes(grey: np.ndarray, considered: list[Box]) -> list[Box]:
    """The considered boxes in the order query_regions takes them (regions._ranked, the
    pasted rectangles always included)."""
    from registry.fingerprints.regions import _ranked

    ranked = list(_ranked(grey))
    return ranked + [box for box in considered if box not in ranked]


def run(folder: Path, sample: int | None, processes: int, show: int) -> None:
    evalset = load_evalset(folder, processes, sample)
    registry, weak = build_registry(evalset.dataset, DEFAULT_MATCHING)
    _, _, lines = read_manifest(folder, sample)
    edited_lines = [line for line in lines if line["work"] is not None]
    found: list[Diagnosis] = []
    for line, query in zip(edited_lines, evalset.dataset.queries, strict=True):
        diagnosis = diagnose(line, query, registry, weak)
        if diagnosis is not None:
            found.append(diagnosis)
    edits = list(dict.fromkeys(d.edit for d in found))
    print(f"{'edit':<14}{'n':>5}" + "".join(f"{c:>12}" for c in CLASSES) + f"{'oracle':>9}")
    for edit in edits:
        rows = [d for d in found if d.edit == edit]
        counts = Counter(d.cause for d in rows)
        oracle = sum(d.oracle for d in rows if d.cause != "found")
        print(
            f"{edit:<14}{len(rows):>5}"
            + "".join(f"{counts[c]:>12}" for c in CLASSES)
            + f"{oracle:>9}"
        )
    print("oracle: misses whose true box, hashed as a region, is a candidate and verifies")
    for edit in edits:
        dropped = Counter(d.detail for d in found if d.edit == edit and d.cause == "dropped")
        if dropped:
            print(f"{edit}: dropped because {dict(dropped)}")
    for d in [d for d in found if d.cause != "found"][:show]:
        print(f"  {d.edit} {d.cause} {d.detail} best={d.best_overlap} oracle={d.oracle} {d.path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", type=Path, required=True, help="an evaluation set's folder")
    parser.add_argument("--sample", type=int, default=None)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--show", type=int, default=0, help="list this many misses")
    args = parser.parse_args()
    run(args.eval, args.sample, args.processes, args.show)


if __name__ == "__main__":
    main()
