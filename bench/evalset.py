"""Write an evaluation set of corpus2 to a folder: `python -m bench.evalset --part dev OUT`.

The folder holds image files and `manifest.jsonl`, one JSON object a line:
  {"kind": "work", "id", "path", "family", "category", "split": "registered" | "distinct"}
  {"kind": "query", "path", "edit", "params", "work": <registered work id> | null,
   "source": <id of the work it was made from>, "category"}
Queries of registered works: every edit of bench/accuracy/generator.py on a sample of
`--per-edit` registered works. Queries with "work": null are false-match probes: every
distinct work re-encoded, and every edit on a sample of `--distinct-per-edit` distinct works
(a distinct work inside a screenshot must not match either).

The parameters of every edit come from a generator seeded by (edit, work id), so the same
corpus gives the same files. DEV is for tuning; HOLDOUT is for reporting acceptance only.
`--salt TEXT` draws another sample of works and other edit parameters from the same part (a
fresh confirmation set, once HOLDOUT has been read); without it the sets are as before.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from bench.accuracy.generator import EDITS, web_copy
from bench.corpus2 import ROOT, CorpusWork, PoolPicture, build_corpus, build_pool, flatten


@dataclass(frozen=True)
class Job:
    source: str  # the work's id
    work_file: str  # absolute path of the work's stored copy
    edit: str
    registered: bool
    target_stem: str  # absolute path without suffix
    salt: str = ""  # "" keeps the seeds sets had before --salt


def seed_of(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("/".join(parts).encode()).digest()[:8], "big")


def salted(salt: str, *parts: str) -> tuple[str, ...]:
    """Seed parts with the salt in front, the parts alone without one."""
    return (salt, *parts) if salt else parts


def sample(works: list[CorpusWork], count: int, salt: str) -> list[CorpusWork]:
    ranked = sorted(works, key=lambda work: seed_of(salt, work.key))
    return ranked[:count]


def safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


# -- the worker processes ----------------------------------------------------------------------

_OTHERS: list[str] = []


def _init(others: list[str]) -> None:
    _OTHERS[:] = others


@cache
def _other_picture(path: str) -> Image.Image:
    return flatten(Path(path), 768)


def _run(job: Job) -> tuple[str, dict[str, object]]:
    rng = np.random.default_rng(
        seed_of(
            *salted(job.salt, job.edit, job.source, "registered" if job.registered else "distinct")
        )
    )
    with Image.open(job.work_file) as image:
        picture = web_copy(image)

    def other() -> Image.Image:
        return _other_picture(_OTHERS[int(rng.integers(len(_OTHERS)))])

    data, suffix, params = EDITS[job.edit](picture, rng, other)
    path = job.target_stem + suffix
    Path(path).write_bytes(data)
    return path, params


# -- the set -----------------------------------------------------------------------------------


OTHERS = 400  # unrelated pictures a set draws from; each worker keeps them decoded
OTHER_MAX_PIXELS = 4_000_000


def others_for(part: str, pool: list[PoolPicture], corpus: list[CorpusWork]) -> list[str]:
    """Pool pictures of this part's families that are not in the corpus: never registered."""
    taken = {work.key for work in corpus}
    families = {work.family for work in corpus if work.part == part}
    ranked = sorted(
        (picture for picture in pool if picture.key not in taken and picture.family in families),
        key=lambda picture: seed_of("other", picture.key),
    )
    chosen = []
    for picture in ranked:
        with Image.open(ROOT / picture.source) as image:
            if image.width * image.height > OTHER_MAX_PIXELS:
                continue
        chosen.append(str(ROOT / picture.source))
        if len(chosen) == OTHERS:
            break
    return chosen


def write_set(
    part: str, out: Path, per_edit: int, distinct_per_edit: int, processes: int, salt: str = ""
) -> dict[str, int]:
    corpus = build_corpus(part, processes=processes)
    pool = build_pool()
    works = corpus
    registered = [work for work in works if work.split == "registered"]
    distinct = [work for work in works if work.split == "distinct"]
    if out.exists():
        shutil.rmtree(out)
    (out / "works").mkdir(parents=True)
    lines: list[dict[str, object]] = []
    by_key = {work.key: work for work in works}
    for work in works:
        target = out / "works" / (safe(work.key) + ".png")
        shutil.copyfile(ROOT / work.path, target)
        lines.append(
            {
                "kind": "work",
                "id": work.key,
                "path": str(target),
                "family": work.family,
                "category": work.kind,
                "split": work.split,
            }
        )
    jobs: list[Job] = []
    for edit in EDITS:
        folder = out / "queries" / edit
        folder.mkdir(parents=True)
        drawn = "/".join(salted(salt, edit))
        for work in sample(registered, per_edit, drawn):
            jobs.append(
                Job(
                    work.key,
                    str(out / "works" / (safe(work.key) + ".png")),
                    edit,
                    True,
                    str(folder / ("r_" + safe(work.key))),
                    salt,
                )
            )
        probes = distinct if edit == "reencode" else sample(distinct, distinct_per_edit, drawn)
        for work in probes:
            jobs.append(
                Job(
                    work.key,
                    str(out / "works" / (safe(work.key) + ".png")),
                    edit,
                    False,
                    str(folder / ("d_" + safe(work.key))),
                    salt,
                )
            )
    others = others_for(part, pool, corpus)
    with multiprocessing.Pool(processes, initializer=_init, initargs=(others,)) as workers:
        results = workers.map(_run, jobs, chunksize=8)
    for job, (path, params) in zip(jobs, results, strict=True):
        lines.append(
            {
                "kind": "query",
                "path": path,
                "edit": job.edit,
                "params": params,
                "work": job.source if job.registered else None,
                "source": job.source,
                "category": by_key[job.source].kind,
            }
        )
    partial = out / "manifest.jsonl.partial"
    with partial.open("w") as handle:
        for line in lines:
            handle.write(json.dumps(line) + "\n")
    os.replace(partial, out / "manifest.jsonl")
    return {
        "registered": len(registered),
        "distinct": len(distinct),
        "registered queries": sum(job.registered for job in jobs),
        "distinct queries": sum(not job.registered for job in jobs),
        "edits": len(EDITS),
        "other pictures": len(others),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.evalset", description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--part", choices=("dev", "holdout"), required=True)
    parser.add_argument("--per-edit", type=int, default=300)
    parser.add_argument("--distinct-per-edit", type=int, default=40)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument(
        "--salt", default="", help="another sample and other edit parameters (a fresh set)"
    )
    args = parser.parse_args()
    counts = write_set(
        args.part, args.out, args.per_edit, args.distinct_per_edit, args.processes, args.salt
    )
    print(f"{args.part} set in {args.out}: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
