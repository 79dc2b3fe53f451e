"""Features and plain hashes of an evaluation set's files, extracted on several processes and
cached under .cache/localfeat, keyed by the manifest, the extraction source and its settings."""

from __future__ import annotations

import hashlib
import multiprocessing
import pickle
import time
from dataclasses import dataclass
from pathlib import Path

from bench.accuracy.dataset import Plain, plain_hashes
from bench.localfeat.features import FeatureConfig, Features, extract

PACKAGE = Path(__file__).resolve().parent
CACHE = PACKAGE.parents[1] / ".cache" / "localfeat"


@dataclass(frozen=True)
class Extracted:
    features: Features
    plain: Plain
    seconds: float  # CPU time of the feature extraction alone (decode included)


def _extract_file(job: tuple[str, FeatureConfig]) -> Extracted:
    path, config = job
    data = Path(path).read_bytes()
    started = time.process_time()
    features = extract(data, config)
    seconds = time.process_time() - started
    return Extracted(features, plain_hashes(data), seconds)


def digest(manifest: bytes, configs: list[FeatureConfig]) -> str:
    found = hashlib.sha256(manifest)
    for name in ("features.py", "cache.py"):
        found.update((PACKAGE / name).read_bytes())
    found.update(repr(configs).encode())
    return found.hexdigest()[:16]


def extract_all(
    paths: list[str], config: FeatureConfig, processes: int, cache: Path
) -> list[Extracted]:
    if cache.exists():
        with cache.open("rb") as handle:
            found: list[Extracted] = pickle.load(handle)  # noqa: S301 - our own cache file
            return found
    with multiprocessing.Pool(processes) as pool:
        found = pool.map(_extract_file, [(path, config) for path in paths], chunksize=8)
    cache.parent.mkdir(parents=True, exist_ok=True)
    with cache.open("wb") as handle:
        pickle.dump(found, handle)
    return found
