"""How far in angle a query may be turned from a registered tilt and still match:
`python -m bench.tilt_reach [--corpus FOLDER] [--works N]`.

The registered tilts (variants.WIDE_TILTS) are spaced by this reach, not by any evaluation set's
edits. For every Nth work of the first corpus (bench.corpus: not an evaluation set), a tilt is
made from the work as registered (variants._tilted: turned about the centre, corners filled
with the picture's edge colour, trimmed), and queries are its web copy turned by other angles
the two ways a re-poster's tool turns a picture (the frame kept, corners cut; or the canvas
grown to hold the whole picture), corners white or black, re-encoded as JPEG: the share of
works whose query the index finds (pHash within `phash_radius`) and the verification accepts
(rules.verify, as the variant), for each registered angle and query angle.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from PIL import Image

from bench.accuracy.edits import web_copy
from bench.crop_reach import gated_works, query_hashes
from registry.fingerprints.hashing import hash_image
from registry.fingerprints.variants import _tilted
from registry.matching.rules import DEFAULT_MATCHING, verify

REGISTERED = (3.0, 5.0, 7.0, 9.0, 11.0, 13.0)
QUERIES = (4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0)
MODES = (
    ("cut, white", False, (255, 255, 255)),
    ("cut, black", False, (0, 0, 0)),
    ("grown, white", True, (255, 255, 255)),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path(".cache/corpus"))
    parser.add_argument("--works", type=int, default=60)
    args = parser.parse_args()
    radius = DEFAULT_MATCHING.phash_radius
    # hits[mode][registered][query] = (found and verified, pHash alone)
    hits = {m: {r: {q: [0, 0] for q in QUERIES} for r in REGISTERED} for m, _, _ in MODES}
    counted = 0
    for data, decoded in gated_works(args.corpus, args.works):
        counted += 1
        registered = {r: hash_image(_tilted(r)(decoded)) for r in REGISTERED}
        web = web_copy(Image.open(io.BytesIO(data)))
        for mode, expand, fill in MODES:
            for q in QUERIES:
                turned = web.rotate(q, Image.Resampling.BICUBIC, expand=expand, fillcolor=fill)
                query = query_hashes(turned)
                for r in REGISTERED:
                    verdict = verify(query, registered[r], DEFAULT_MATCHING, variant="tilt_left")
                    near = verdict.distances["phash"] <= radius
                    hits[mode][r][q][0] += near and verdict.matched
                    hits[mode][r][q][1] += near
    print(f"{counted} works; found (pHash within {radius}) and verified / pHash alone")
    for mode, _, _ in MODES:
        print(f"\n{mode}: registered tilt (rows) against the query's angle (columns)")
        print(f"{'':>8}" + "".join(f"{q:>9.0f}" for q in QUERIES))
        for r in REGISTERED:
            cells = "".join(
                f"{hits[mode][r][q][0] / max(counted, 1):>5.0%}"
                f"/{hits[mode][r][q][1] / max(counted, 1):<3.0%}"
                for q in QUERIES
            )
            print(f"{r:>8.0f}{cells}")


if __name__ == "__main__":
    main()
