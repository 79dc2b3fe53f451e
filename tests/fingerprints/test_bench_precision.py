"""bench.precision: the offline re-run of the item decision that the false-match figures of
docs/matching.md (section 10, precision) come from must decide as bench.accuracy does, and
its variants must change only what they say."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from bench.accuracy.external import load_evalset, measure
from bench.accuracy.generator import EDITS
from bench.precision import Pair, Runner
from registry.matching.rules import DEFAULT_MATCHING, Verdict
from tests.fingerprints.images import painting, with_mark


def _write(folder: Path, name: str, image: Image.Image) -> str:
    path = folder / name
    image.convert("RGB").save(path, "PNG")
    return str(path)


def _evalset_with_a_marked_sibling(folder: Path) -> Path:
    """One registered painting, its re-encoded copy, and as a false-match probe a distinct
    work cut from it: the same painting with one compact mark (the overlay rules accept it)."""
    work = painting(1)
    sibling = with_mark(work, 0.4, 0.6, size=0.12)
    lines: list[dict[str, object]] = [
        {
            "kind": "work",
            "id": "a",
            "path": _write(folder, "a.png", work),
            "family": "f",
            "category": "painting",
            "split": "registered",
        },
        {
            "kind": "work",
            "id": "sibling",
            "path": _write(folder, "sibling.png", sibling),
            "family": "f",
            "category": "painting",
            "split": "distinct",
        },
    ]
    others = lambda: painting(99, (320, 240))  # noqa: E731
    for number, (target, picture) in enumerate([("a", work), (None, sibling)]):
        data, suffix, params = EDITS["reencode"](picture, np.random.default_rng(number), others)
        path = folder / f"q{number}{suffix}"
        path.write_bytes(data)
        lines.append(
            {
                "kind": "query",
                "path": str(path),
                "edit": "reencode",
                "params": params,
                "work": target,
                "source": target or "sibling",
                "category": "painting",
            }
        )
    (folder / "manifest.jsonl").write_text("\n".join(json.dumps(line) for line in lines))
    return folder


def test_the_offline_runner_decides_as_the_accuracy_bench(tmp_path: Path) -> None:
    evalset = load_evalset(
        _evalset_with_a_marked_sibling(tmp_path), processes=1, cache_dir=tmp_path / "cache"
    )
    edited, probes, _, _ = measure(evalset, DEFAULT_MATCHING)
    hits, totals, false, _ = Runner(evalset).run()
    assert (edited.hits["reencode"], probes.hits["reencode"]) == (1, 1)
    assert hits["reencode"] == 1 and totals["probes"] == 1 and len(false) == 1


def test_a_veto_refuses_only_the_pairs_it_names(tmp_path: Path) -> None:
    evalset = load_evalset(
        _evalset_with_a_marked_sibling(tmp_path), processes=1, cache_dir=tmp_path / "cache"
    )
    runner = Runner(evalset)

    def refuse_overlays(pair: Pair, verdict: Verdict) -> bool:
        return verdict.distances["overlay"] > 0

    hits, _, false, _ = runner.run(veto=refuse_overlays)
    assert hits["reencode"] == 1  # the re-encoded copy has no overlay
    assert false == []  # the marked sibling matched through its mark only
