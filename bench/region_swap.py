"""A query-side change to the regions, measured without fingerprinting the works again:
`python -m bench.region_swap --eval FOLDER --sample 100 --base DIGEST [--save OUT.json]`.

bench.accuracy caches an evaluation set's fingerprints keyed by a digest of
registry/fingerprints/*.py, so any edit there fingerprints every work and query afresh (minutes
on a shared machine). A change confined to the query's regions (fingerprints.regions,
fingerprints.rectify) leaves the registered works' fingerprints and the queries' whole hashes as
they were: this bench loads the cache of the code before the change (`--base`, the digest in its
file name), recomputes every query's regions with the code as it is now, and prints
bench.accuracy's report. `--save` writes, per query, whether its work was found (edited) or which
works it matched (probes), for a per-query comparison of two runs (`--compare A.json B.json`).

It also times the region stage (decode excluded: `query_regions` and the regions' hashes, CPU
time, one process each) and counts regions a query.
"""

from __future__ import annotations

import argparse
import ast
import json
import multiprocessing
import time
from dataclasses import replace
from pathlib import Path

from bench.accuracy import external
from bench.accuracy.__main__ import build_registry, consentry_item
from bench.accuracy.dataset import Query
from registry.fingerprints import ImageDecodeError, decode_image, regions
from registry.fingerprints.fingerprint import _region_hashes
from registry.fingerprints.hashing import Hashes
from registry.fingerprints.regions import query_regions
from registry.matching.rules import DEFAULT_MATCHING

RegionList = tuple[tuple[tuple[int, int, int, int], Hashes], ...]


def _regions(path: str) -> tuple[RegionList | None, float]:
    try:
        decoded = decode_image(Path(path).read_bytes())
    except ImageDecodeError:
        return None, 0.0
    started = time.process_time()
    regions = tuple((region.box, _region_hashes(region)) for region in query_regions(decoded))
    return regions, time.process_time() - started


def _swapped(query: Query, regions: RegionList | None) -> Query:
    if query.fingerprint is None or regions is None:
        return query
    return replace(query, fingerprint=replace(query.fingerprint, regions=regions))


def outcomes(evalset: external.EvalSet, lines: list[dict[str, object]]) -> dict[str, object]:
    """Per query path: found (edited) or the matched works' keys (probes)."""
    registry, _ = build_registry(evalset.dataset, DEFAULT_MATCHING)
    names = {number: r.work.key for number, r in enumerate(evalset.dataset.registered)}
    edited = iter(evalset.dataset.queries)
    probes = iter(evalset.dataset.distinct)
    result: dict[str, object] = {}
    for line in lines:
        query = next(edited) if line["work"] is not None else next(probes)
        item = consentry_item(query, registry, DEFAULT_MATCHING)
        matched = set()
        if not item.over_budget:
            matched = {work for work, (_, v) in item.matched.items() if v.matched}
        key = f"{line['edit']}|{line['path']}"
        if query.work is not None:
            result[key] = query.work in matched
        else:
            result[key] = sorted(names[work] for work in matched)
    return result


def run(folder: Path, sample: int | None, base: str, processes: int, save: Path | None) -> None:
    external._fingerprint_digest = lambda manifest: base  # the code before the change
    evalset = external.load_evalset(folder, processes, sample)
    _, _, lines = external.read_manifest(folder, sample)
    paths = [str(line["path"]) for line in lines]
    started = time.perf_counter()
    with multiprocessing.Pool(processes) as pool:
        computed = pool.map(_regions, paths, chunksize=16)
    wall = time.perf_counter() - started
    by_path = dict(zip(paths, computed, strict=True))
    dataset = evalset.dataset
    edited = [
        _swapped(q, by_path[str(line["path"])][0])
        for q, line in zip(
            dataset.queries, [line for line in lines if line["work"] is not None], strict=True
        )
    ]
    probes = [
        _swapped(q, by_path[str(line["path"])][0])
        for q, line in zip(
            dataset.distinct, [line for line in lines if line["work"] is None], strict=True
        )
    ]
    evalset = replace(evalset, dataset=replace(dataset, queries=edited, distinct=probes))
    cpu = [seconds for _, seconds in computed]
    counts = [len(regions) for regions, _ in computed if regions is not None]
    print(
        f"regions: {sum(counts) / len(counts):.2f} a query; region stage CPU "
        f"{1000 * sum(cpu) / len(cpu):.2f} ms a query ({wall:.0f} s wall on {processes})"
    )
    external.report(evalset, DEFAULT_MATCHING, folder)
    if save is not None:
        save.write_text(json.dumps(outcomes(evalset, lines), indent=0))


def compare(first: Path, second: Path) -> None:
    a, b = json.loads(first.read_text()), json.loads(second.read_text())
    for key in sorted(a):
        if a[key] != b[key]:
            edit, path = key.split("|", 1)
            print(f"{edit:<16} {a[key]!s:>8} -> {b[key]!s:<8} {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", type=Path)
    parser.add_argument("--sample", type=int, default=None)
    parser.add_argument("--base", help="the fingerprint digest of the cached run to start from")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--save", type=Path)
    parser.add_argument("--compare", type=Path, nargs=2)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a constant of fingerprints.regions (a Python literal) for this run",
    )
    args = parser.parse_args()
    for setting in args.set:
        name, value = setting.split("=", 1)
        assert hasattr(regions, name), name
        setattr(regions, name, ast.literal_eval(value))
    if args.compare:
        compare(*args.compare)
        return
    run(args.eval, args.sample, args.base, args.processes, args.save)


if __name__ == "__main__":
    main()
