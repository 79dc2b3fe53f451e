"""Which windows of a work (the widest 16:9, 9:16 or 1:1 crop, at places along the axis it
slides on) earn their index rows: `python -m bench.window_sets --eval FOLDER [--sample N]`.

Fingerprints an evaluation set once (bench.accuracy's cache), takes out the windows version 4
registers (variants.WINDOW_VARIANTS), makes each registered work's windows from its file as
`fingerprint_work` makes a variant (from the picture as published), and measures the set with
them added as weak variants (they hold only a part of the work). A set says which aspects, how
far apart the windows sit (a share of the side they slide along, spaced by `bench.crop_reach`),
which works get windows (`fill`: every work; only works the symmetric trim leaves as they are;
only those with no uniform page around the picture either), whether a window must be left as
it is by the trim (`window_trim`, what version 4 registers), how much of it the trim must keep,
and how much information it must carry (`fingerprint.information`, against the weak-image
gate's MatchingConfig.min_information). Per set: crop_16x9 (any / strong) over all its queries
and over those of works that fill their frame ("fill"), 1:1 and 9:16 crops the bench draws
from the same works (the evaluation sets make none), every other edit's hits, the false
matches (any / strong), pHash rows a work and the CPU of the windows kept; `--matches` lists
the probes a set brought, with the window that matched. Scratch files (the windows, the
drawn crops) go beside bench.accuracy's cache.
"""

from __future__ import annotations

import argparse
import io
import pickle
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

import bench.accuracy.__main__ as accuracy
from bench.accuracy.dataset import Query, plain_hashes
from bench.accuracy.external import CACHE, EvalSet, load_evalset, measure
from bench.accuracy.generator import web_copy
from registry.fingerprints import (
    VARIANTS,
    Hashes,
    WorkFingerprints,
    decode_image,
    fingerprint_image,
)
from registry.fingerprints.decode import DecodedImage, trim_borders, trim_box
from registry.fingerprints.fingerprint import information
from registry.fingerprints.hashing import hash_image
from registry.fingerprints.regions import content_box
from registry.fingerprints.variants import WINDOW_VARIANTS, window_box, window_positions
from registry.matching.matcher import VARIANT_NUMBER
from registry.matching.rules import DEFAULT_MATCHING, MatchingConfig

ASPECTS = {"16x9": 16 / 9, "9x16": 9 / 16, "1x1": 1.0}


@dataclass(frozen=True)
class WindowSet:
    aspects: tuple[str, ...]
    step: float  # the windows' spacing, a share of the side they slide along
    fill: str  # "any", "trim" (trim_box leaves the frame), "page" (and no uniform page border)
    min_information: float = 0.0
    window_trim: bool = False  # the window itself trims to itself (no uniform border pair)
    min_kept: float = 0.0  # the least share of the window's area its trim may keep


@dataclass(frozen=True)
class Window:
    name: str
    hashes: Hashes
    information: float
    trims: bool  # trim_borders leaves the window as it is
    kept: float  # the share of the window's area its trim keeps


@dataclass(frozen=True)
class WorkWindows:
    trim_fills: bool  # the symmetric trim leaves the frame as it is
    no_page: bool  # content_box finds no uniform page around the picture (or the whole frame)
    windows: list[Window]
    seconds: float  # CPU time to make and hash the windows


def work_windows(decoded: DecodedImage, aspects: tuple[str, ...], step: float) -> WorkWindows:
    started = time.process_time()
    frame = decoded.decoded
    width, height = frame.size
    trim_fills = trim_box(frame) == (0, 0, width, height)
    box = content_box(np.asarray(frame.convert("L"), dtype=np.float32))
    no_page = box is None or box == (0, 0, width, height)
    image = decoded.untrimmed
    windows = []
    for label in aspects:
        for number, where in enumerate(window_positions(image.size, ASPECTS[label], step)):
            raw = image.crop(window_box(image.size, ASPECTS[label], where))
            window = trim_borders(raw)
            windows.append(
                Window(
                    f"crop_{label}_{number}",
                    hash_image(window),
                    information(window),
                    window.size == raw.size,
                    window.width * window.height / (raw.width * raw.height),
                )
            )
    return WorkWindows(trim_fills, no_page, windows, time.process_time() - started)


def all_windows(
    evalset: EvalSet, aspects: tuple[str, ...], step: float, cache: Path
) -> list[WorkWindows | None]:
    key = cache / f"windows2-{'-'.join(aspects)}-{step}-{len(evalset.dataset.registered)}.pickle"
    if key.exists():
        with key.open("rb") as handle:
            return pickle.load(handle)  # noqa: S301 - our own scratch file
    made: list[WorkWindows | None] = []
    for registered in evalset.dataset.registered:
        if registered.fingerprints is None:
            made.append(None)
            continue
        made.append(
            work_windows(decode_image(Path(registered.work.path).read_bytes()), aspects, step)
        )
    cache.mkdir(parents=True, exist_ok=True)
    with key.open("wb") as handle:
        pickle.dump(made, handle)
    return made


def chosen(work: WorkWindows | None, spec: WindowSet) -> list[Window]:
    if work is None:
        return []
    if spec.fill in ("trim", "page") and not work.trim_fills:
        return []
    if spec.fill == "page" and not work.no_page:
        return []
    return [
        w
        for w in work.windows
        if w.name.split("_")[1] in spec.aspects
        and w.information >= spec.min_information
        and (w.trims or not spec.window_trim)
        and w.kept >= spec.min_kept
    ]


def with_windows(evalset: EvalSet, added: list[list[Window]]) -> EvalSet:
    registered = []
    for work, windows in zip(evalset.dataset.registered, added, strict=True):
        found = work.fingerprints
        if found is not None:
            # The windows version 4 registers are taken out: each set brings its own.
            variants = {n: h for n, h in found.variants.items() if n not in WINDOW_VARIANTS}
            variants |= {w.name: w.hashes for w in windows}
            found = WorkFingerprints(image=found.image, variants=variants)
        registered.append(replace(work, fingerprints=found))
    return replace(evalset, dataset=replace(evalset.dataset, registered=registered))


def aspect_queries(evalset: EvalSet, label: str, cache: Path) -> list[Query]:
    """Re-posts cropped to the widest `label` window at a random place (as the generator's
    crop_16x9 makes them: JPEG quality 78-93), one of each work the set's crop_16x9 queries
    come from: the evaluation sets have no 9:16 or 1:1 edit."""
    key = cache / f"queries-{label}-{len(evalset.dataset.queries)}.pickle"
    if key.exists():
        with key.open("rb") as handle:
            return pickle.load(handle)  # noqa: S301 - our own scratch file
    rng = np.random.default_rng(916)
    made = []
    for query in evalset.dataset.queries:
        if query.edit != "crop_16x9" or query.work is None:
            continue
        path = evalset.dataset.registered[query.work].work.path
        image = web_copy(Image.open(path))
        box = window_box(image.size, ASPECTS[label], 0.0)
        slack = (image.width - box[2], image.height - box[3])
        left, top = int(rng.integers(0, slack[0] + 1)), int(rng.integers(0, slack[1] + 1))
        crop = image.crop((left, top, left + box[2], top + box[3]))
        out = io.BytesIO()
        crop.save(out, "JPEG", quality=int(rng.integers(78, 94)))
        data = out.getvalue()
        made.append(
            Query(
                query.work, query.key, f"crop_{label}", fingerprint_image(data), plain_hashes(data)
            )
        )
    with key.open("wb") as handle:
        pickle.dump(made, handle)
    return made


def register_names(names: list[str]) -> tuple[str, ...]:
    """The index numbers its variants (matcher.VARIANT_NUMBER, bench.accuracy's VARIANTS):
    the windows are numbered after version 4's variants, for this process only."""
    extended = tuple(VARIANTS) + tuple(n for n in names if n not in VARIANTS)
    for number, name in enumerate(extended):
        VARIANT_NUMBER.setdefault(name, number)
    accuracy.VARIANTS = extended
    return extended


def why(
    evalset: EvalSet,
    config: MatchingConfig,
    registry: accuracy.Registry,
    key: str,
    added: list[list[Window]],
) -> str:
    """The registered works a probe matched, each with the variant that settled it (and the
    window's information and kept share when a window did)."""
    found: list[str] = []
    for query in evalset.dataset.distinct:
        if query.key != key:
            continue
        item = accuracy.consentry_item(query, registry, config)
        for work, (variant, _) in item.matched.items():
            windows = {w.name: w for w in added[work]}
            note = ""
            if variant in windows:
                w = windows[variant]
                note = f" (information {w.information:.1f}, kept {w.kept:.0%})"
            line = f"{evalset.dataset.registered[work].work.key} via {variant}{note}"
            if line not in found:
                found.append(line)
    return "; ".join(found)


SETS: dict[str, WindowSet] = {
    "16:9 3%, every work": WindowSet(("16x9",), 0.03, "any"),
    "16:9 3%, trim fills": WindowSet(("16x9",), 0.03, "trim"),
    "16:9 3%, no page": WindowSet(("16x9",), 0.03, "page"),
    "16:9 3%, every work, info 2x": WindowSet(("16x9",), 0.03, "any", 5.0),
    "16:9 3%, every work, info 3x": WindowSet(("16x9",), 0.03, "any", 7.5),
    "16:9 3%, every work, window fills": WindowSet(("16x9",), 0.03, "any", 0.0, True),
    "16:9 3%, every work, kept 70%": WindowSet(("16x9",), 0.03, "any", 0.0, False, 0.7),
    "16:9 3%, no page, info 2x": WindowSet(("16x9",), 0.03, "page", 5.0),
    "16:9 2%, no page": WindowSet(("16x9",), 0.02, "page"),
    "16:9 4%, no page": WindowSet(("16x9",), 0.04, "page"),
    "16:9 6%, no page": WindowSet(("16x9",), 0.06, "page"),
    "16:9 3%, window fills, info 2x": WindowSet(("16x9",), 0.03, "any", 5.0, True),
    "16:9 4%, window fills, info 2x": WindowSet(("16x9",), 0.04, "any", 5.0, True),
    "16:9 + 1:1 3%, window fills, info 2x": WindowSet(("16x9", "1x1"), 0.03, "any", 5.0, True),
    "16:9 + 1:1 + 9:16 3%, window fills, info 2x": WindowSet(
        ("16x9", "1x1", "9x16"), 0.03, "any", 5.0, True
    ),
    "16:9 + 1:1 3%, no page": WindowSet(("16x9", "1x1"), 0.03, "page"),
    "16:9 + 9:16 3%, no page": WindowSet(("16x9", "9x16"), 0.03, "page"),
    "16:9 + 1:1 + 9:16 3%, no page": WindowSet(("16x9", "1x1", "9x16"), 0.03, "page"),
}
EXTRA = ("1x1", "9x16")  # crops the evaluation sets do not make: drawn here


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", type=Path, required=True)
    parser.add_argument("--sample", type=int)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--only", action="append", default=[], help="measure these sets only")
    parser.add_argument("--matches", action="store_true", help="list each set's new false matches")
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args()
    full = load_evalset(args.eval, args.processes, args.sample)
    extra = [q for label in EXTRA for q in aspect_queries(full, label, args.cache)]
    full = replace(full, dataset=replace(full.dataset, queries=full.dataset.queries + extra))
    edits = ["crop_16x9", *(f"crop_{label}" for label in EXTRA)]
    sets = {"v4": None} | {k: v for k, v in SETS.items() if not args.only or k in args.only}
    steps = sorted({spec.step for spec in sets.values() if spec})
    made_at = {step: all_windows(full, tuple(ASPECTS), step, args.cache) for step in steps}
    names = sorted(
        {w.name for made in made_at.values() for work in made if work for w in work.windows}
    )
    register_names(names)
    made = made_at[steps[0]]
    filled = {n for n, work in enumerate(made) if work and work.trim_fills and work.no_page}
    print(
        f"works: {len(made)}, frame filled (trim and no page): {len(filled)}; "
        f"crop_16x9 queries of them: "
        f"{sum(1 for q in full.dataset.queries if q.edit == 'crop_16x9' and q.work in filled)}"
    )
    print(
        f"{'set':<32}{'rows':>6}{'cpu ms':>7}"
        + "".join(f"{e[5:]:>9}{'fill':>9}" for e in edits)
        + f"{'others':>12}{'false':>10}"
    )
    baseline: set[str] | None = None
    base_hits: Counter[str] | None = None
    for label, spec in sets.items():
        made = made_at[spec.step] if spec else made_at[steps[0]]
        added = [chosen(work, spec) if spec else [] for work in made]
        evalset = with_windows(full, added)
        names_added = tuple(sorted({w.name for ws in added for w in ws}))
        weak = [n for n in DEFAULT_MATCHING.weak_variants if n not in WINDOW_VARIANTS]
        config = replace(DEFAULT_MATCHING, weak_variants=(*weak, *names_added))
        edited, probes, _, _ = measure(evalset, config)
        fill_set = replace(
            evalset,
            dataset=replace(
                evalset.dataset,
                queries=[
                    q for q in evalset.dataset.queries if q.edit in edits and q.work in filled
                ],
                distinct=[],
            ),
            probe_categories=[],
        )
        fill_edited = measure(fill_set, config)[0]
        rows = sum(
            len(r.fingerprints.variants) for r in evalset.dataset.registered if r.fingerprints
        ) / len(evalset.dataset.registered)
        # Each work's windows cost about the same: the CPU of those kept.
        cpu = (
            1000
            / len(made)
            * sum(
                work.seconds * len(kept) / len(work.windows)
                for work, kept in zip(made, added, strict=True)
                if work and work.windows
            )
        )
        others = {e: edited.hits[e] for e in full.edits if e not in edits}
        cells = ""
        for e in edits:
            for tally in (edited, fill_edited):
                n = max(1, tally.total[e])
                cells += f"{tally.hits[e] / n:>5.0%}/{tally.strong[e] / n:<3.0%}"
        print(
            f"{label:<32}{rows:>6.1f}{cpu:>7.1f}{cells}"
            f"{sum(others.values()):>6}/{sum(edited.strong[e] for e in others):<5}"
            f"{sum(probes.hits.values()):>5}/{sum(probes.strong.values()):<4}",
            flush=True,
        )
        if base_hits is None:
            base_hits = Counter(others)
        else:
            moved = {e: others[e] - base_hits[e] for e in others if others[e] != base_hits[e]}
            if moved:
                print(f"    other edits moved: {moved}")
        matched = {key for key, _ in probes.false_matches}
        if baseline is None:
            baseline = matched
        elif args.matches:
            new = {key for key, _ in probes.false_matches if key not in baseline}
            registry = accuracy.build_registry(evalset.dataset, config)[0]
            for key in sorted(new):
                print(f"    new false match: {key} -> {why(evalset, config, registry, key, added)}")
    fills = Counter(len(chosen(work, SETS["16:9 3%, no page"])) for work in made_at[steps[0]])
    print("16:9 windows a work, frame filled, every 3%:", dict(sorted(fills.items())))


if __name__ == "__main__":
    main()
