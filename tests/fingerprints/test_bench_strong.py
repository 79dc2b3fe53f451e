"""bench.strong: the offline measure of strong matches (docs/matching.md section 10,
"Confirming a strong match") must count strong hits and strong false matches as the rules
decide them, and a confirmation must demote only the pairs it refuses, to weak."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.accuracy.external import load_evalset
from bench.accuracy.generator import EDITS
from bench.precision import Pair, Runner
from bench.strong import orientation_distance, orientation_map, run_strong
from registry.matching.rules import Verdict
from tests.fingerprints.images import in_the_corner, painting


def _evalset_with_a_corner_sibling(folder: Path) -> Path:
    """One registered painting with a disc in a corner, its re-encoded copy, and as a probe
    a sibling cut from the same template: a square in that corner instead."""
    pictures = {
        "work": in_the_corner(painting(21), "disc", 0.25),
        "sibling": in_the_corner(painting(21), "square", 0.25),
    }
    lines: list[dict[str, object]] = []
    for name, picture in pictures.items():
        path = folder / f"{name}.png"
        picture.save(path, "PNG")
        split = "registered" if name == "work" else "distinct"
        lines.append(
            {
                "kind": "work",
                "id": name,
                "path": str(path),
                "family": "f",
                "category": "painting",
                "split": split,
            }
        )
    others = lambda: painting(99, (320, 240))  # noqa: E731
    for number, name in enumerate(pictures):
        data, suffix, params = EDITS["reencode"](
            pictures[name], np.random.default_rng(number), others
        )
        path = folder / f"q{number}{suffix}"
        path.write_bytes(data)
        target = "work" if name == "work" else None
        lines.append(
            {
                "kind": "query",
                "path": str(path),
                "edit": "reencode",
                "params": params,
                "work": target,
                "source": name,
                "category": "painting",
            }
        )
    (folder / "manifest.jsonl").write_text("\n".join(json.dumps(line) for line in lines))
    return folder


def test_a_corner_sibling_matches_but_only_the_copy_is_strong(tmp_path: Path) -> None:
    evalset = load_evalset(
        _evalset_with_a_corner_sibling(tmp_path), processes=1, cache_dir=tmp_path / "cache"
    )
    runner = Runner(evalset)
    hits, _, false, _ = runner.run()
    assert hits["reencode"] == 1 and len(false) == 1  # both match: the sibling can deny
    strong = run_strong(runner)
    assert strong.hits["reencode"] == 1 and strong.false == []
    # Before the edge overlay was held to the edge, the sibling could allow.
    unlimited = replace(runner.config, strong_max_edge_depth=1.0)
    assert len(run_strong(runner, config=unlimited).false) == 1


def test_a_confirmation_demotes_to_weak_only_what_it_refuses(tmp_path: Path) -> None:
    evalset = load_evalset(
        _evalset_with_a_corner_sibling(tmp_path), processes=1, cache_dir=tmp_path / "cache"
    )
    runner = Runner(evalset)

    def refuse_all(pair: Pair, verdict: Verdict) -> bool:
        return True

    demoted = run_strong(runner, refuse_all)
    assert demoted.hits["reencode"] == 0 and demoted.settled == {}
    assert runner.run()[0]["reencode"] == 1  # still matched: a weak match can deny
    assert run_strong(runner, lambda pair, verdict: False).hits["reencode"] == 1


def test_orientation_maps_of_one_picture_agree_and_of_two_differ() -> None:
    grey = np.asarray(painting(3).convert("L").resize((64, 64)), float)
    other = np.asarray(painting(4).convert("L").resize((64, 64)), float)
    same, _ = orientation_distance(orientation_map(grey), orientation_map(grey * 0.5 + 40))
    assert same < 1e-6  # a contrast change scales every block alike
    assert orientation_distance(orientation_map(grey), orientation_map(other))[0] > 0.5
