"""The measuring tools of issues 14 and 22: the edit generator, the evaluation-set reader,
the collision counts and the realistic index figures. Figures that decide what the
matching work must beat have to be counted right."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from bench.accuracy.external import load_evalset, measure
from bench.accuracy.generator import EDITS, TARGETS, web_copy
from bench.collisions import pair_counts
from bench.evalset import salted, sample, seed_of
from bench.matching.realistic import entries_touched, flip_bits
from registry.matching.rules import DEFAULT_MATCHING
from tests.fingerprints.images import painting


def _others() -> Image.Image:
    return painting(99, (320, 240))


@pytest.mark.parametrize("name", sorted(EDITS))
def test_every_edit_is_seeded_decodable_and_described(name: str) -> None:
    work = web_copy(painting(3))
    first = EDITS[name](work, np.random.default_rng(5), _others)
    again = EDITS[name](work, np.random.default_rng(5), _others)
    assert first[0] == again[0] and first[2] == again[2]
    with Image.open(io.BytesIO(first[0])) as decoded:
        decoded.load()
        assert min(decoded.size) >= 16
    json.dumps(first[2])  # the parameters go into the manifest


def test_every_edit_has_a_target_and_the_issue_targets_are_kept() -> None:
    assert set(TARGETS) == set(EDITS)
    assert TARGETS["reencode"] == 0.99 and TARGETS["screenshot"] == 0.95
    assert TARGETS["crop_centre_50"] == 0.90


def test_randomized_parameters_differ_between_seeds() -> None:
    work = web_copy(painting(3))
    angles = {
        EDITS["rotate_small"](work, np.random.default_rng(s), _others)[2]["angle"] for s in range(6)
    }
    assert len(angles) == 6 and all(4 <= abs(a) <= 15 for a in angles)


def test_sticker_covers_at_most_a_tenth_and_crops_keep_what_they_say() -> None:
    work = web_copy(painting(3, (400, 300)))
    for seed in range(5):
        params = EDITS["sticker"](work, np.random.default_rng(seed), _others)[2]
        assert np.pi * (params["diameter"] / 2) ** 2 <= 0.1 * 400 * 300 * 1.01
    data = EDITS["crop_centre_50"](work, np.random.default_rng(1), _others)[0]
    assert Image.open(io.BytesIO(data)).size == (200, 150)
    data = EDITS["crop_16x9"](work, np.random.default_rng(1), _others)[0]
    assert Image.open(io.BytesIO(data)).size == (400, 225)


def _write(folder: Path, name: str, image: Image.Image) -> str:
    path = folder / name
    image.convert("RGB").save(path, "PNG")
    return str(path)


def test_evaluation_set_counts_recall_false_matches_and_gate_misses(tmp_path: Path) -> None:
    registered = painting(1)
    distinct = painting(2)
    blank = Image.new("RGB", (300, 300), (250, 250, 250))  # the gate refuses it
    lines: list[dict[str, object]] = [
        {
            "kind": "work",
            "id": "a",
            "path": _write(tmp_path, "a.png", registered),
            "family": "f1",
            "category": "painting",
            "split": "registered",
        },
        {
            "kind": "work",
            "id": "blank",
            "path": _write(tmp_path, "blank.png", blank),
            "family": "f2",
            "category": "icon",
            "split": "registered",
        },
        {
            "kind": "work",
            "id": "b",
            "path": _write(tmp_path, "b.png", distinct),
            "family": "f1",
            "category": "painting",
            "split": "distinct",
        },
    ]
    queries = [("a", registered), ("blank", blank), (None, distinct)]
    for number, (work, picture) in enumerate(queries):
        data, suffix, params = EDITS["reencode"](picture, np.random.default_rng(number), _others)
        path = tmp_path / f"q{number}{suffix}"
        path.write_bytes(data)
        lines.append(
            {
                "kind": "query",
                "path": str(path),
                "edit": "reencode",
                "params": params,
                "work": work,
                "source": work or "b",
                "category": "painting",
            }
        )
    (tmp_path / "manifest.jsonl").write_text("\n".join(json.dumps(line) for line in lines))

    evalset = load_evalset(tmp_path, processes=1, cache_dir=tmp_path / "cache")
    edited, probes, by_kind, weak = measure(evalset, DEFAULT_MATCHING)

    assert edited.total["reencode"] == 2  # the refused work's query is counted, not dropped
    assert edited.hits["reencode"] == 1
    assert edited.strong["reencode"] == 1  # a re-encoded copy is a near copy: it may allow
    assert edited.refused["reencode"] == 1
    assert len(weak) == 1
    assert probes.total["reencode"] == 1 and probes.hits["reencode"] == 0
    assert probes.strong["reencode"] == 0
    assert by_kind.total["other"] == 1 and by_kind.total["flat"] == 0


def test_a_salt_draws_another_sample_and_none_keeps_the_sets_as_they_were() -> None:
    """bench.evalset --salt: a fresh confirmation set from the same part; without a salt the
    seeds are the ones earlier sets were written with."""
    works = [SimpleNamespace(key=f"work-{n}") for n in range(200)]
    unsalted = sample(works, 20, "blur")  # type: ignore[arg-type]

    assert salted("", "blur", "work-1") == ("blur", "work-1")
    assert unsalted == sorted(works, key=lambda w: seed_of("blur", w.key))[:20]
    fresh = sample(works, 20, "/".join(salted("fresh1", "blur")))  # type: ignore[arg-type]
    assert fresh != unsalted
    assert seed_of(*salted("fresh1", "blur", "work-1")) != seed_of("blur", "work-1")


def test_collision_counts_leave_out_same_family_pairs_and_copies() -> None:
    base = np.uint64(0x0F0F_0F0F_0F0F_0F0F)
    far = np.uint64(0xFFFF_0000_FFFF_0000)
    codes = {
        "phash": np.array([base, base ^ np.uint64(3), base ^ np.uint64(7), far], np.uint64),
        "dhash": np.array([0, 2**64 - 1, 0x5555_5555_5555_5555, 0xAAAA_AAAA_AAAA_AAAA], np.uint64),
        # pictures 0 and 2 are one picture shipped twice (PDQ identical); 1 differs.
        "pdq": np.array([[0] * 4, [2**64 - 1] * 4, [0] * 4, [12345] * 4], np.uint64),
        "kind": np.array(["icon", "icon", "icon", "line"]),
        "family": np.array(["x", "x", "y", "y"]),
    }
    counts = pair_counts(codes, radius=10, dhash_radius=10)
    everything = counts["all"]
    assert everything["pairs"] == 4  # 6 pairs less (0,1) and (2,3), same family
    assert everything["copies"] == 1  # (0, 2)
    assert everything["phash"] == 1  # (1, 2): 3 ^ 7 is one bit; (0, 2) is the copy
    assert counts["icon"]["pairs"] == 2


def test_entries_touched_counts_bucket_entries_and_flips_stay_in_range() -> None:
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 2**64, 5000, dtype=np.uint64, endpoint=False)
    same = np.full(5000, codes[0])
    # All entries share every chunk value: a probe reads them all in each table it probes.
    assert entries_touched(same, codes[:10], 10) >= 5000
    flipped = flip_bits(rng, codes, 2, 6)
    distances = np.bitwise_count(flipped ^ codes)
    assert distances.max() <= 6 and distances.mean() > 2
