"""Which registered variants earn their index rows:
`python -m bench.variant_sets --eval FOLDER [--sample N] [--set NAME=VARIANT,...]`.

Fingerprints an evaluation set once (bench.accuracy's cache), then measures it with the
registry holding only some of the variants: version 3's fifteen, and each named set of version
4's added on top. Per set: recall (any / strong) on the edits it is meant for, every other
edit's hits (any / strong), and the false matches (any / strong); `--matches` lists the probes
a set brought, `--weak` measures each set again with its variants weak
(MatchingConfig.weak_variants). Without --set, the sets below. The 16:9 windows measured in
docs/matching.md were variants of commit 711d765 ("crop_16x9_0" ... "crop_16x9_1000").
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import replace
from pathlib import Path

from bench.accuracy.external import EvalSet, load_evalset, measure
from registry.fingerprints import VARIANTS, WorkFingerprints
from registry.matching.rules import DEFAULT_MATCHING

VERSION_3 = VARIANTS[: VARIANTS.index("flip_vertical") + 1]
NEW = [name for name in VARIANTS if name not in VERSION_3]
CENTRE_70 = ["crop_centre_70"]
CENTRE_50 = ["crop_centre_50"]
GRID_70 = [f"crop_centre_70_{c}" for c in ("nw", "ne", "sw", "se")]
GRID_50 = [f"crop_centre_50_{c}" for c in ("nw", "ne", "sw", "se")]
SETS: dict[str, list[str]] = {
    "v3": [],
    "content_box": ["content_box"],
    "centre 70": CENTRE_70,
    "centre 70 2x2": GRID_70,
    "centre 70 + 2x2": CENTRE_70 + GRID_70,
    "centre 50": CENTRE_50,
    "centre 50 2x2": GRID_50,
    "centre 50 + 2x2": CENTRE_50 + GRID_50,
    "all": NEW,
}
TARGETS = (
    "screenshot",
    "collage_2x2",
    "meme",
    "composite",
    "border_asym",
    "crop_centre_30",
    "crop_centre_50",
    "crop_16x9",
)


def restricted(evalset: EvalSet, names: set[str]) -> EvalSet:
    registered = []
    for work in evalset.dataset.registered:
        found = work.fingerprints
        if found is not None:
            kept = {name: h for name, h in found.variants.items() if name in names}
            found = WorkFingerprints(image=found.image, variants=kept)
        registered.append(replace(work, fingerprints=found))
    return replace(evalset, dataset=replace(evalset.dataset, registered=registered))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", type=Path, required=True)
    parser.add_argument("--sample", type=int)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=V1,V2")
    parser.add_argument("--matches", action="store_true", help="list each set's new false matches")
    parser.add_argument("--weak", action="store_true", help="also with the added variants weak")
    args = parser.parse_args()
    sets = dict(SETS)
    if args.set:
        sets = {"v3": []}
        for item in args.set:
            name, _, names = item.partition("=")
            sets[name] = [n for n in names.split(",") if n]
    full = load_evalset(args.eval, args.processes, args.sample)
    edits = [edit for edit in TARGETS if edit in full.edits]
    print(
        f"{'set':<18}{'rows':>6}"
        + "".join(f"{edit[:11]:>12}" for edit in edits)
        + f"{'others':>8}{'false':>10}"
    )
    baseline: set[str] | None = None
    for name, added in sets.items():
        kept = set(VERSION_3) | set(added)
        evalset = restricted(full, kept)
        configs = [(name, DEFAULT_MATCHING)]
        if args.weak and added:
            configs.append((f"{name} weak", replace(DEFAULT_MATCHING, weak_variants=tuple(added))))
        for label, config in configs:
            edited, probes, _, _ = measure(evalset, config)
            rows = sum(
                len(r.fingerprints.variants) for r in evalset.dataset.registered if r.fingerprints
            ) / len(evalset.dataset.registered)
            cells = "".join(
                f"{edited.hits[e] / edited.total[e]:>7.0%}"
                f"/{edited.strong[e] / edited.total[e]:<4.0%}"
                for e in edits
            )
            others = sum(edited.hits[e] for e in full.edits if e not in edits)
            others_strong = sum(edited.strong[e] for e in full.edits if e not in edits)
            false_any, false_strong = sum(probes.hits.values()), sum(probes.strong.values())
            print(
                f"{label:<22}{rows:>6.1f}{cells}{others:>6}/{others_strong:<5}"
                f"{false_any:>5}/{false_strong:<4}",
                flush=True,
            )
        matched = {key for key, _ in probes.false_matches}
        if baseline is None:
            baseline = matched
        elif args.matches:
            names = {n: r.work.key for n, r in enumerate(evalset.dataset.registered)}
            for key, works in probes.false_matches:
                if key not in baseline:
                    print(f"    new false match: {key} -> {', '.join(names[w] for w in works)}")
    counts = Counter(
        name for r in full.dataset.registered if r.fingerprints for name in r.fingerprints.variants
    )
    print("works holding each new variant:", {n: counts[n] for n in NEW})


if __name__ == "__main__":
    main()
