"""Strong matches, and confirmations of them: `python -m bench.strong --eval FOLDER --sample 100`.

Only a strong match (rules.Verdict.strong) may let an item through as consented, so a strong
false match is a picture that could pass under another artist's terms. This runs the
registry's item decision (rules.verify_item, through bench.precision's cached runner) on
every edited query and false-match probe of an evaluation set and

- lists the strong false matches (`--list`): probe, registered work, variant, distances;
- counts the strong true hits per edit, and those of the mild edits (MILD) apart;
- reruns the decision with a candidate confirmation: a pair the published rules call
  strong is demoted to weak when the confirmation refuses it (it still matches, so it can
  deny; the work's other variants are then tried for a strong match, as the registry does),
  and prints, per confirmation, strong hits kept (all edits and mild edits) and strong
  false matches left, with the edits that lose hits.

Confirmations measured: the whole query's PDQ distance (already in every fingerprint), a
blob of small disagreements in the descriptor (cells changed at a lower tolerance than the
published one), how deep an edge overlay reaches into the frame (the corner-inset defect),
and, with `--fine`, comparisons at 64x64 made from the decoded pictures (finer grey, and
gradient orientations), which the 963-byte descriptor cannot carry. `--inset` also makes
corner-inset queries (another picture over 25-33% of a registered work's side, in a
corner) and counts how many match strongly.
"""

from __future__ import annotations

import argparse
import io
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from bench.accuracy.external import load_evalset
from bench.precision import Pair, Runner, manifest_paths
from registry.fingerprints import VARIANTS, Hashes, fingerprint_image
from registry.fingerprints import comparison as cmp
from registry.matching import rules
from registry.matching.matcher import VARIANT_NUMBER
from registry.matching.rules import MatchingConfig, Verdict

# The edits a strong match must survive: what a re-post does to a whole picture without
# covering any of it (the brief of a strong match: a whole-picture near copy).
MILD = (
    "reencode",
    "resize",
    "thumbnail",
    "jpeg_low",
    "webp",
    "mirror",
    "rotate_90",
    "brightness",
    "grayscale",
    "blur",
    "watermark",
    "letterbox",
    "hue",
    "saturation",
    "contrast",
    "gamma",
)
# A pair the published rules call strong, refused by a confirmation (True: demote to weak).
Demote = Callable[[Pair, Verdict], bool]


@dataclass(frozen=True)
class StrongResult:
    hits: Counter[str]  # per edit, queries whose own work matched strongly
    totals: Counter[str]  # per edit, queries
    false: list[tuple[int, list[int]]]  # probes matched strongly, and the works
    settled: dict[tuple[int, int], tuple[str, Verdict]]  # (query, work) -> strong verdict


def item_strong(
    runner: Runner, number: int, config: MatchingConfig, demote: Demote | None
) -> dict[int, tuple[str, Verdict]]:
    """The works query `number` matched strongly, with `demote` applied inside the decision
    (so that verify_item goes on to the work's other variants, as the registry would)."""
    item = runner.item(number, config, demote=demote)
    if item.over_budget:
        return {}
    return {work: item.matched[work] for work in item.strong}


def run_strong(
    runner: Runner, demote: Demote | None = None, config: MatchingConfig | None = None
) -> StrongResult:
    config = config or runner.config
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    false: list[tuple[int, list[int]]] = []
    settled: dict[tuple[int, int], tuple[str, Verdict]] = {}
    for number, query in enumerate(runner.queries):
        strong = item_strong(runner, number, config, demote)
        for work, found in strong.items():
            settled[number, work] = found
        if query.work is None:
            totals["probes"] += 1
            if strong:
                false.append((number, sorted(strong)))
        else:
            totals[query.edit] += 1
            hits[query.edit] += query.work in strong
    return StrongResult(hits, totals, false, settled)


def line(name: str, result: StrongResult, base: StrongResult) -> str:
    def total(r: StrongResult, edits: tuple[str, ...] | None = None) -> int:
        return sum(n for e, n in r.hits.items() if edits is None or e in edits)

    kept_mild = total(result, MILD) / max(total(base, MILD), 1)
    lost = {e: base.hits[e] - result.hits[e] for e in base.hits if base.hits[e] > result.hits[e]}
    worst = ", ".join(f"{e} {n}" for e, n in sorted(lost.items(), key=lambda x: -x[1])[:6])
    return (
        f"{name:<52} strong hits {total(result):>5}/{total(base)}"
        f"  mild {total(result, MILD):>5}/{total(base, MILD)} ({kept_mild:.1%})"
        f"  strong false {len(result.false):>3}/{result.totals['probes']}"
        f" ({len(result.false) / max(result.totals['probes'], 1):.1%})"
        + (f"  lost: {worst}" if worst else "")
    )


# -- what the descriptor already holds ------------------------------------------------------


@dataclass(frozen=True)
class Disagreement:
    """Where a pair's descriptors disagree, beyond what `compare` reports."""

    edge_depth: int  # how far the edge overlay reaches in, in cells (0: none)
    edge_extent: int  # the smaller side of its bounding box, in cells (0: none)
    blobs: dict[float, int]  # tolerance -> cells of the largest changed blob inside
    changed_at: dict[float, int]  # tolerance -> changed cells anywhere


LOW_TOLERANCES = (0.05, 0.08, 0.10)


def _fitted(query: bytes, candidate: bytes, config: MatchingConfig) -> tuple[np.ndarray, ...]:
    """The query's grey cells, the registered ones fitted to them (as comparison._compare
    fits them), their 3x3 ranges, and the query's grey range."""
    q_raw, r_raw = np.frombuffer(query, np.uint8), np.frombuffer(candidate, np.uint8)
    q_levels, q, q_step = cmp._grey(q_raw)
    r_levels, r, r_step = cmp._grey(r_raw)
    grey_range = cmp._grey_range(q_levels, q_step)
    r_range = cmp._grey_range(r_levels, r_step)
    q_low, q_high = cmp._neighbourhood(q)
    r_low, r_high = cmp._neighbourhood(r)
    gain, offset = cmp._fit(
        q, r, q_high - q_low, r_high - r_low, cmp.FLAT * grey_range, cmp.FLAT * r_range
    )
    affine = np.clip(gain * r + offset, 0, 255)
    classes = cmp._tone_classes(r_levels, cmp._colour(r_raw), config.colourless)
    fitted = cmp._tone_offsets(q, affine, classes)
    f_low, f_high = cmp._neighbourhood(fitted)
    return q, cmp._soften(fitted), q_low, q_high, f_low, f_high, np.array(grey_range)


def _edge_component(changed: np.ndarray) -> np.ndarray:
    """The changed cells connected to the frame's outer band (comparison._overlay_cells)."""
    rows, cols = changed.shape
    seen = np.zeros_like(changed)
    stack = np.empty(rows * cols, np.int64)
    top = 0
    for i in range(rows):
        for j in range(cols):
            if changed[i, j] and min(i, j, rows - 1 - i, cols - 1 - j) < cmp.OVERLAY_BAND:
                seen[i, j] = True
                stack[top] = i * cols + j
                top += 1
    cmp._flood(changed, seen, stack, top)
    return seen


def disagreement(query: bytes, candidate: bytes, config: MatchingConfig) -> Disagreement:
    q, fitted_soft, q_low, q_high, f_low, f_high, grey_range = _fitted(query, candidate, config)
    rng = float(grey_range)
    blobs, changed_at = {}, {}
    for tolerance in (*LOW_TOLERANCES, config.cell_tolerance):
        changed = cmp._changed(
            q,
            fitted_soft,
            (q_low, q_high, f_low, f_high),
            config.contrast_tolerance,
            tolerance * rng,
        )
        _, blob, _, _ = cmp._overlay_cells(changed)
        blobs[tolerance], changed_at[tolerance] = blob, int(changed.sum())
        if tolerance == config.cell_tolerance:
            edge = _edge_component(changed)
    depth, extent = 0, 0
    if edge.any():
        rows, cols = np.nonzero(edge)
        n = edge.shape[0]
        depth = int(np.minimum.reduce([rows, cols, n - 1 - rows, n - 1 - cols]).max()) + 1
        extent = int(min(rows.max() - rows.min(), cols.max() - cols.min())) + 1
    return Disagreement(depth, extent, blobs, changed_at)


# -- finer pictures, decoded from the files (not in the descriptor) -------------------------

FINE = 64


@cache
def _query_picture(path: str) -> Image.Image:
    from registry.fingerprints.decode import decode_image

    return decode_image(Path(path).read_bytes()).trimmed


def _grey(image: Image.Image, size: int = FINE) -> np.ndarray:
    cells = np.asarray(image.convert("RGB").resize((size, size), Image.Resampling.BOX), float)
    return cells @ np.array([0.299, 0.587, 0.114])


def orientation_map(grey: np.ndarray, cell: int = 4, bins: int = 8) -> np.ndarray:
    """Gradient energy per orientation (unsigned, so a negative or a colour change keeps it)
    in each cell x cell block of a grey picture, as a share of the picture's total: a
    contrast change scales every block alike."""
    gy, gx = np.gradient(grey)
    magnitude = np.hypot(gx, gy)
    angle = np.mod(np.arctan2(gy, gx), np.pi)
    index = np.minimum((angle / np.pi * bins).astype(int), bins - 1)
    n = grey.shape[0] // cell
    out = np.zeros((n, n, bins))
    for b in range(bins):
        weights = np.where(index == b, magnitude, 0.0)
        out[..., b] = weights.reshape(n, cell, n, cell).sum(axis=(1, 3))
    return out / (out.sum() + 1e-9)


def orientation_distance(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Each block's L1 distance to the closest of the other map's 3x3 blocks (a shift of a
    block tolerated), both ways: (the worse direction's total, its largest block), shares
    of the gradient energy (0 alike, 2 nothing in common)."""

    def one_way(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        padded = np.pad(y, ((1, 1), (1, 1), (0, 0)), mode="edge")
        best = np.full((n, n), np.inf)
        for di in range(3):
            for dj in range(3):
                shifted = padded[di : di + n, dj : dj + n]
                best = np.minimum(best, np.abs(x - shifted).sum(axis=2))
        return best

    there, back = one_way(a, b), one_way(b, a)
    return max(float(there.sum()), float(back.sum())), max(float(there.max()), float(back.max()))


@dataclass(frozen=True)
class Fine:
    grey_changed: float  # bench.fine.fine_distances at 64x64: share of changed cells
    q_sharp: float
    r_sharp: float
    orientation: float  # orientation_distance: total, and its largest block
    orientation_block: float
    # |log| of the ratio of the trimmed pictures' aspect ratios: a stretch, or another size
    # of a sprite or button that the square descriptor cannot see.
    aspect: float
    # Half the L1 distance of the two pictures' colour histograms (4 levels a channel):
    # 0 the same colours, 1 none in common.
    colours: float


def fine_features(query_path: str, work_path: str, variant: str) -> Fine:
    from bench import fine

    query, registered = _query_picture(query_path), fine.work_pictures(work_path)[variant]
    q, r = _grey(query), _grey(registered)
    found = fine.fine_distances(q, r)
    total, block = orientation_distance(orientation_map(q), orientation_map(r))
    aspect = abs(
        math.log(query.width / query.height) - math.log(registered.width / registered.height)
    )
    colours = float(np.abs(colour_histogram(query) - colour_histogram(registered)).sum()) / 2
    return Fine(found["changed"], found["q_sharp"], found["r_sharp"], total, block, aspect, colours)


def colour_histogram(image: Image.Image, levels: int = 4) -> np.ndarray:
    """The share of a 64x64 copy's pixels in each of levels**3 colour bins."""
    pixels = np.asarray(image.convert("RGB").resize((FINE, FINE), Image.Resampling.BOX), int)
    bins = (pixels * levels // 256) @ np.array([levels * levels, levels, 1])
    return np.bincount(bins.ravel(), minlength=levels**3) / bins.size


# -- corner insets --------------------------------------------------------------------------


def inset_queries(
    runner: Runner, work_paths: list[str], other_paths: list[str], count: int, seed: int = 7
) -> list[tuple[int, Hashes, list[Hashes]]]:
    """`count` registered works, each with another picture over 25-33% of its side in a random
    corner, re-encoded as JPEG: (work, the query's hashes, its searched hashes)."""
    rng = np.random.default_rng(seed)
    out = []
    works = [w for w in range(len(work_paths)) if w not in runner.weak]
    for number in rng.choice(works, size=min(count, len(works)), replace=False).tolist():
        base = Image.open(work_paths[number]).convert("RGB")
        other = Image.open(other_paths[int(rng.integers(len(other_paths)))]).convert("RGB")
        share = float(rng.uniform(0.25, 0.33))
        size = (max(1, round(base.width * share)), max(1, round(base.height * share)))
        corner = int(rng.integers(4))
        x = 0 if corner in (0, 2) else base.width - size[0]
        y = 0 if corner in (0, 1) else base.height - size[1]
        base.paste(other.resize(size), (x, y))
        data = io.BytesIO()
        base.save(data, "JPEG", quality=90)
        fingerprint = fingerprint_image(data.getvalue())
        out.append((number, fingerprint.hashes, fingerprint.searched()))
    return out


def inset_strong(
    runner: Runner,
    insets: list[tuple[int, Hashes, list[Hashes]]],
    config: MatchingConfig,
    demote: Demote | None,
) -> tuple[int, int]:
    """(inset queries matched, matched strongly) to their own work, by every variant of it."""
    matched = strong = 0
    for position, (work, hashes, _) in enumerate(insets):
        number = -1 - position
        EXTRA[number] = hashes
        verdicts = [
            (VARIANTS[v], rules.verify(hashes, registered, config, variant=VARIANTS[v]))
            for (w, v), registered in runner.registry.hashes.items()
            if w == work and (hashes.phash ^ registered.phash).bit_count() <= config.phash_radius
        ]
        matched += any(v.matched for _, v in verdicts)
        strong += any(
            v.strong and not (demote is not None and demote(Pair(number, 0, work, variant), v))
            for variant, v in verdicts
        )
    return matched, strong


# -- the runs -------------------------------------------------------------------------------


def list_strong(runner: Runner, base: StrongResult) -> None:
    names = [r.work.key for r in runner.evalset.dataset.registered]
    print(f"strong false matches: {len(base.false)} probes")
    for number, works in base.false:
        query = runner.queries[number]
        for work in works:
            variant, verdict = base.settled[number, work]
            d = verdict.distances
            print(
                f"  {query.key} ({query.edit}) -> {names[work]} [{variant}] "
                f"phash {d['phash']} pdq {d['pdq']} changed {d['changed']:.3f} "
                f"inside {d['changed_inside']:.4f} luma {d['luma']:.3f}"
            )
    print("strong true hits per edit:")
    print(
        "  "
        + ", ".join(f"{e} {base.hits[e]}/{base.totals[e]}" for e in base.totals if e != "probes")
    )


# Queries made by this module (corner insets), by negative query number: -1 is the first.
EXTRA: dict[int, Hashes] = {}


def _pair_hashes(runner: Runner, pair: Pair) -> tuple[Hashes, Hashes]:
    """The whole query's hashes and the registered variant's, of a pair."""
    registered = runner.registry.hashes[pair.work, VARIANT_NUMBER[pair.variant]]
    if pair.query < 0:
        return EXTRA[pair.query], registered
    found = runner.candidates[pair.query]
    assert found is not None
    return found[0][0], registered


Feature = Callable[[Pair, Verdict], float]


def over(feature: Feature, limit: float, unless: Callable[[Pair], bool] | None = None) -> Demote:
    """Demote a strong pair whose `feature` is over `limit` (unless `unless` says not to
    hold this pair to it)."""

    def demote(pair: Pair, verdict: Verdict) -> bool:
        if unless is not None and unless(pair):
            return False
        return feature(pair, verdict) > limit

    return demote


def either(*demotes: Demote) -> Demote:
    return lambda pair, verdict: any(demote(pair, verdict) for demote in demotes)


def confirmations(runner: Runner) -> list[tuple[str, Demote]]:
    """The confirmations that need nothing beyond today's fingerprint."""
    config = runner.config

    @cache
    def dis(pair: Pair) -> Disagreement:
        query, registered = _pair_hashes(runner, pair)
        return disagreement(query.descriptor, registered.descriptor, config)

    def pdq(_: Pair, verdict: Verdict) -> float:
        return verdict.distances["pdq"]

    def low_quality(pair: Pair) -> bool:
        return min(h.pdq_quality for h in _pair_hashes(runner, pair)) < 50

    def blob(tolerance: float) -> Feature:
        return lambda pair, _: dis(pair).blobs[tolerance]

    def variant_in(*prefixes: str) -> Demote:
        return lambda pair, _: pair.variant.startswith(prefixes)

    checks: list[tuple[str, Demote]] = []
    crops, tilts = variant_in("crop_"), variant_in("tilt_")
    checks.append(("not through a registered crop variant", crops))
    checks.append(("not through a tilted variant", tilts))
    checks.append(("not through the brightened variant", variant_in("brightened")))
    checks.append(("not through a crop or a tilt", variant_in("crop_", "tilt_")))
    for bits in (60, 70, 80):
        checks.append(
            (f"no crop variant, and PDQ within {bits} bits", either(crops, over(pdq, bits)))
        )
    for bits in (40, 50, 60, 70, 80, 90):
        checks.append((f"PDQ within {bits} bits", over(pdq, bits)))
    for bits in (50, 60, 70):
        checks.append((f"PDQ within {bits} bits when quality >= 50", over(pdq, bits, low_quality)))
    for tolerance in LOW_TOLERANCES:
        for cells in (2, 4, 8):
            name = f"no blob over {cells} cells changed at tolerance {tolerance}"
            checks.append((name, over(blob(tolerance), cells)))
    for depth in (4, 5, 6, 7, 8):
        name = f"edge overlay within {depth} cells of the edge"
        checks.append((name, over(lambda pair, _: dis(pair).edge_depth, depth)))
    for extent in (5, 6, 7, 8):
        name = f"edge overlay's bounding box thinner than {extent + 1} cells"
        checks.append((name, over(lambda pair, _: dis(pair).edge_extent, extent)))
    return checks


def fine_confirmations(
    runner: Runner, folder: Path, sample: int | None
) -> list[tuple[str, Demote]]:
    """Confirmations on the decoded pictures at 64x64: they need data the fingerprint does
    not carry (a finer picture of each registered variant, and of the query)."""
    query_paths, work_paths = manifest_paths(folder, sample)

    @cache
    def features(pair: Pair) -> Fine:
        return fine_features(query_paths[pair.query], work_paths[pair.work], pair.variant)

    def lost_detail(alpha: float) -> Callable[[Pair], bool]:
        return lambda pair: features(pair).q_sharp < alpha * features(pair).r_sharp

    checks: list[tuple[str, Demote]] = []
    for limit in (0.02, 0.03, 0.05):
        for alpha in (0.0, 0.9):
            name = f"64x64 grey changed <= {limit}, unless sharpness < {alpha}"
            grey_changed = over(lambda p, _: features(p).grey_changed, limit, lost_detail(alpha))
            checks.append((name, grey_changed))
    for limit in (0.7, 0.8):
        name = f"64x64 gradient orientations differ by <= {limit}"
        checks.append((name, over(lambda p, _: features(p).orientation, limit)))
    for limit in (0.2, 0.3, 0.4):
        name = f"colour histograms (4 levels a channel) differ by <= {limit}"
        checks.append((name, over(lambda p, _: features(p).colours, limit)))
    aspect, pdq = (
        over(lambda p, _: features(p).aspect, 0.15),
        over(lambda _, v: v.distances["pdq"], 80),
    )
    orientation = over(lambda p, _: features(p).orientation, 0.8)
    checks.append(
        (
            "trimmed aspect 0.15, PDQ 80 bits, gradient orientations 0.8",
            either(aspect, pdq, orientation),
        )
    )
    for limit in (0.1, 0.15, 0.2):
        aspect = over(lambda p, _: features(p).aspect, limit)
        checks.append((f"trimmed aspect ratios within {limit} (log)", aspect))
        for bits in (80, 90):
            name = f"trimmed aspect within {limit}, and PDQ within {bits} bits"
            checks.append((name, either(aspect, over(lambda _, v: v.distances["pdq"], bits))))
    return checks


def selected(name: str, only: list[str] | None) -> bool:
    return only is None or any(text in name for text in only)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--eval", type=Path, required=True, help="an evaluation set (bench.evalset)"
    )
    parser.add_argument("--sample", type=int, help="the first N queries (and probes) of each edit")
    parser.add_argument("--processes", type=int, default=2, help="to fingerprint, if not cached")
    parser.add_argument("--list", action="store_true", help="list the strong false matches")
    parser.add_argument(
        "--per-edit", action="store_true", help="strong hits per edit, before and after the depth"
    )
    parser.add_argument(
        "--fine", action="store_true", help="also the 64x64 confirmations (decodes the pictures)"
    )
    parser.add_argument("--inset", type=int, default=0, help="this many corner-inset queries")
    parser.add_argument(
        "--only",
        action="append",
        help="only confirmations whose name contains this text (e.g. 'PDQ'); repeatable",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    runner = Runner(load_evalset(args.eval, args.processes, args.sample))
    base = run_strong(runner)
    print(line("published rules (Verdict.strong)", base, base), flush=True)
    # The rules before strong_max_edge_depth, for comparison (a depth of the whole side
    # never refuses).
    before = run_strong(runner, config=replace(runner.config, strong_max_edge_depth=1.0))
    print(line("without strong_max_edge_depth", before, base), flush=True)
    if args.per_edit:
        print("strong hits per edit, without strong_max_edge_depth -> published:")
        for edit in before.totals:
            if edit != "probes":
                counts = f"{before.hits[edit]:>5} -> {base.hits[edit]:>5} of {base.totals[edit]}"
                print(f"  {edit:<16}{counts}")
    if args.list:
        list_strong(runner, base)
    checks = confirmations(runner)
    fine_checks = fine_confirmations(runner, args.eval, args.sample) if args.fine else []
    for name, demote in [*checks, *fine_checks]:
        if selected(name, args.only):
            print(line(name, run_strong(runner, demote), base), flush=True)
    if args.inset:
        query_paths, work_paths = manifest_paths(args.eval, args.sample)
        probes = query_paths[len(runner.evalset.dataset.queries) :]
        insets = inset_queries(runner, work_paths, probes, args.inset)
        print(f"corner insets (25-33% of the side), {len(insets)} queries:")
        for name, config in (
            ("published rules", runner.config),
            ("without strong_max_edge_depth", replace(runner.config, strong_max_edge_depth=1.0)),
        ):
            matched, strong = inset_strong(runner, insets, config, None)
            print(f"  {name:<50} matched {matched}, strong {strong}")
        # The 64x64 checks read the query's file, which an inset query does not have.
        for name, demote in checks:
            if selected(name, args.only):
                matched, strong = inset_strong(runner, insets, runner.config, demote)
                print(f"  {name:<50} matched {matched}, strong {strong}")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
