"""Screening a dataset shard by shard: one screening per shard, resumable and idempotent.

OUT/SHARD/ holds a shard's state while it runs (state.json: its screening and the chunks sent),
then results.parquet (one row per sample), receipt.json and, last, done.json: the done marker.
A rerun skips a shard whose marker matches the same file, settings and registry version; when the
registry has changed since (the consent-changes feed's version), it says so and screens again.
Samples stream through: a shard holds only its ids and one chunk of fingerprints in memory.
"""

import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from multiprocessing import Pool
from multiprocessing.pool import Pool as PoolType
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from registry.client.api import (
    ApiError,
    Registry,
    applied_minimum,
    refuse_other_fingerprint_version,
)
from registry.client.batch import fingerprint_batch, fingerprint_one
from registry.client.chunks import ChunkSender
from registry.client.collect import every_decision
from registry.client.datasets import (
    DatasetError,
    Sample,
    Shard,
    write_filtered_hf,
    write_filtered_parquet,
    write_filtered_tar,
)
from registry.fingerprints import FINGERPRINT_VERSION
from registry.gatekeeper import passing_decisions

HASH_BATCH = 64
RESULT_BATCH = 1000
PROGRESS_EVERY = 10.0
RESULTS_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("decision", pa.string()),
        ("passes", pa.bool_()),
        ("reason", pa.string()),
        ("matched_work_ids", pa.list_(pa.int64())),
        ("credit", pa.string()),
    ]
)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Settings:
    api: str
    purpose: str
    mode: str
    min_assurance: str = "verified"
    chunk_size: int = 1000
    filtered_out: Path | None = None
    workers: int = 0  # 0: every core
    progress: bool = True
    poll_seconds: float = 1.0
    timeout: float | None = None
    wire: str = "auto"  # registry.client.chunks.WIRES

    def identity(self) -> dict[str, Any]:
        """What a done marker or a state must match to be reused."""
        return {
            "api": self.api.rstrip("/"),
            "purpose": self.purpose,
            "mode": self.mode,
            "min_assurance": self.min_assurance,
            # Results another fingerprint version made are not this client's to reuse.
            "fingerprint_version": FINGERPRINT_VERSION,
        }

    def passing(self) -> set[str]:
        return set(passing_decisions(self.mode))


@dataclass
class ShardState:
    identity: dict[str, Any]
    stamp: list[int]
    chunk_size: int
    screening_id: str | None = None
    sent_chunks: list[int] = field(default_factory=list)
    closed: bool = False


@dataclass
class Totals:
    """The run's counters: Python ints, written as int64, so no count wraps at 2^31."""

    shards: int
    started: float = field(default_factory=time.monotonic)
    screened: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)
    samples: int = 0
    screened_samples: int = 0
    screening_seconds: float = 0.0
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def finished(self) -> int:
        return self.screened + self.skipped + len(self.failed)

    # By the clock, not the shards' own times: a cluster screens several shards at once.
    def rate(self) -> float:
        seconds = time.monotonic() - self.started
        return self.screened_samples / seconds if seconds > 0 else 0.0

    def eta(self) -> str:
        left = self.shards - self.finished
        if not self.screened or not left:
            return "0s"
        return _duration((time.monotonic() - self.started) / self.screened * left)

    def counts_text(self) -> str:
        return ", ".join(f"{name} {count:,}" for name, count in sorted(self.counts.items())) or "-"


SCREENED, SKIPPED, FAILED = "screened", "skipped", "failed"


@dataclass(frozen=True)
class Outcome:
    """What became of one shard: all a cluster task sends back to the driver (picklable)."""

    shard: str
    status: str  # SCREENED, SKIPPED or FAILED
    samples: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    # A skipped shard: the screening that finished it, and whether --reuse kept it.
    screening_id: str | None = None
    registry_version: int | None = None
    reused: bool = False
    # What the shard's screening said on the way (the registry changed, resuming...).
    notes: tuple[str, ...] = ()


def record(
    outcome: Outcome, totals: Totals, progress: bool, say: Callable[[str], None] = _stderr
) -> None:
    """Counts one shard's outcome into the run's totals and prints its line."""
    for note in outcome.notes:
        say(note)
    if outcome.status == SKIPPED:
        totals.skipped += 1
        totals.samples += outcome.samples
        totals.counts.update(outcome.counts)
        kept = " (--reuse)" if outcome.reused else ""
        say(
            f"[{totals.finished}/{totals.shards}] {outcome.shard}: finished earlier (screening "
            f"{outcome.screening_id}, registry version {outcome.registry_version}){kept}; skipped"
        )
        return
    if outcome.status == FAILED:
        totals.failed.append(outcome.shard)
        say(f"[{totals.finished}/{totals.shards}] {outcome.shard}: FAILED: {outcome.error}")
        return
    totals.screened += 1
    totals.samples += outcome.samples
    totals.screened_samples += outcome.samples
    totals.screening_seconds += outcome.seconds
    totals.counts.update(outcome.counts)
    if progress:
        seconds, samples = outcome.seconds, outcome.samples
        shard_counts = ", ".join(f"{name} {n:,}" for name, n in sorted(outcome.counts.items()))
        say(
            f"[{totals.finished}/{totals.shards}] {outcome.shard}: {samples:,} samples in "
            f"{seconds:.1f} s ({samples / seconds if seconds else 0:,.1f} items/s): "
            f"{shard_counts} | overall {totals.samples:,} samples, {totals.rate():,.1f} "
            f"items/s, {totals.counts_text()}, ETA {totals.eta()}"
        )


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return (
        f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
    )


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    draft = path.with_name(path.name + ".tmp")
    draft.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    draft.replace(path)  # atomic: an interruption leaves the old file or the new


def _ignore_interrupts() -> None:
    # Ctrl-C reaches the whole process group: only the parent handles it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _wire(sample: Sample, fingerprint: dict[str, Any]) -> dict[str, Any]:
    wire: dict[str, Any] = {"id": sample.key}
    if sample.url:
        wire["url"] = sample.url
    wire.update({"unreadable": sample.problem} if sample.problem else fingerprint)
    return wire


def registry_version(registry: Registry) -> int:
    """Asked before any hashing: the registry answers, takes the key, matches this client's
    fingerprint version, and tells its registry version."""
    refuse_other_fingerprint_version(registry)
    head = registry.get("consent-changes", params={"limit": 1})
    return int(head["registry_version"]["sequence"])


class ShardRun:
    """Screens one shard after another into OUT/SHARD/, with a progress line per shard."""

    def __init__(
        self,
        registry: Registry,
        out: Path,
        settings: Settings,
        *,
        restart: bool = False,
        reuse: bool = False,
        say: Callable[[str], None] = _stderr,
    ) -> None:
        self.registry, self.out, self.settings = registry, out, settings
        self.restart, self.reuse, self.say = restart, reuse, say
        self.pool: PoolType | None = None
        self.chunks = ChunkSender(registry, wire=settings.wire, say=say)

    # --- the whole run ------------------------------------------------------------------

    def run(self, shards: list[Shard]) -> Totals:
        version = registry_version(self.registry)
        totals = Totals(len(shards))
        workers = self.settings.workers or os.cpu_count() or 1
        self.pool = Pool(workers, initializer=_ignore_interrupts) if workers > 1 else None
        try:
            for shard in shards:
                self._one(shard, version, totals)
        finally:
            if self.pool is not None:
                self.pool.terminate()
        return totals

    def _one(self, shard: Shard, version: int, totals: Totals) -> None:
        outcome = self.screen_shard(shard, version)
        record(outcome, totals, self.settings.progress, self.say)

    def screen_shard(self, shard: Shard, version: int) -> Outcome:
        """One shard screened, or skipped when finished earlier: what every engine's task runs.
        Raises only when the registry fails (ApiError, a connection error)."""
        folder = self.out / shard.name
        folder.mkdir(parents=True, exist_ok=True)
        done = None if self.restart else self._done_marker(shard, folder)
        if done is not None and (done["registry_version"] == version or self.reuse):
            self._write_filtered(shard, folder, only_if_missing=True)
            return Outcome(
                shard.name,
                SKIPPED,
                samples=done["samples"],
                counts=dict(done["counts"]),
                screening_id=done["screening_id"],
                registry_version=done["registry_version"],
                reused=done["registry_version"] != version,
            )
        if done is not None:
            self.say(
                f"{shard.name}: the registry changed since it was screened (version "
                f"{done['registry_version']}, now {version}); screening it again"
            )
            (folder / "done.json").unlink()
            (folder / "state.json").unlink(missing_ok=True)
        started = time.monotonic()
        try:
            samples, counts = self._screen(shard, folder)
        except DatasetError as error:
            return Outcome(shard.name, FAILED, error=str(error))
        return Outcome(
            shard.name,
            SCREENED,
            samples=samples,
            counts=dict(counts),
            seconds=time.monotonic() - started,
        )

    def _done_marker(self, shard: Shard, folder: Path) -> dict[str, Any] | None:
        done = _read_json(folder / "done.json")
        if done is None or not (folder / "results.parquet").is_file():
            return None
        same = (
            done.get("identity") == self.settings.identity() and done.get("stamp") == shard.stamp()
        )
        return done if same else None

    # --- one shard ----------------------------------------------------------------------

    def _state(self, shard: Shard, folder: Path) -> ShardState:
        fresh = ShardState(self.settings.identity(), shard.stamp(), self.settings.chunk_size)
        saved = None if self.restart else _read_json(folder / "state.json")
        if saved is None:
            return fresh
        try:
            state = ShardState(**saved)
        except TypeError:
            return fresh
        same = (state.identity, state.stamp, state.chunk_size) == (
            fresh.identity,
            fresh.stamp,
            fresh.chunk_size,
        )
        if same and state.screening_id:
            self.say(f"{shard.name}: resuming screening {state.screening_id}")
        return state if same else fresh

    def _screen(self, shard: Shard, folder: Path) -> tuple[int, Counter[str]]:
        state = self._state(shard, folder)
        ordered: list[str] = []
        ids = self._send(shard, folder, state, ordered)
        assert state.screening_id is not None  # noqa: S101 - _send closed it
        screening = self._wait(state.screening_id)
        applied_minimum(screening, self.settings.min_assurance)
        chunks = [
            ordered[start : start + state.chunk_size]
            for start in range(0, len(ordered), state.chunk_size)
        ]
        counts = self._write_results(folder, screening, chunks, ids)
        _write_json(folder / "receipt.json", screening["receipt"])
        self._write_filtered(shard, folder)
        _write_json(
            folder / "done.json",
            {
                "screening_id": state.screening_id,
                "registry_version": int(screening["registry_version"]["sequence"]),
                "identity": state.identity,
                "stamp": state.stamp,
                "source": str(shard.path),
                "samples": len(ids),
                "counts": dict(counts),
            },
        )
        (folder / "state.json").unlink(missing_ok=True)
        return len(ids), counts

    def _fingerprints(self, samples: list[Sample]) -> list[dict[str, Any]]:
        images = [sample.image for sample in samples]
        if self.pool is None or len(images) < 8:
            prints = fingerprint_batch(images)
        else:
            prints = self.pool.map(fingerprint_one, images, chunksize=8)
        return [_wire(sample, found) for sample, found in zip(samples, prints, strict=True)]

    def _hashed(
        self, shard: Shard, state: ShardState, ids: set[str], ordered: list[str]
    ) -> Iterator[Any]:
        """Each sample's wire item in order, or None for a sample of a chunk already sent."""
        pending: list[Sample] = []
        sent = set(state.sent_chunks)
        for index, sample in enumerate(shard.samples()):
            ids.add(sample.key)
            ordered.append(sample.key)
            if index // state.chunk_size in sent:
                yield from self._fingerprints(pending)
                pending = []
                yield None
                continue
            pending.append(sample)
            if len(pending) == HASH_BATCH:
                yield from self._fingerprints(pending)
                pending = []
        yield from self._fingerprints(pending)

    def _screening_id(self, folder: Path, state: ShardState) -> str:
        """The shard's screening, created at its first chunk: a shard that cannot be read
        leaves no empty screening behind."""
        if state.screening_id is None:
            body = {
                "purpose": self.settings.purpose,
                "mode": self.settings.mode,
                "min_assurance": self.settings.min_assurance,
                "keep_open": True,
            }
            state.screening_id = self.registry.post("screenings", json=body)["id"]
            _write_json(folder / "state.json", asdict(state))
        return state.screening_id

    def _send(self, shard: Shard, folder: Path, state: ShardState, ordered: list[str]) -> set[str]:
        """Every sample's key (and, in `ordered`, in the order the chunks hold them)."""
        ids: set[str] = set()
        if state.closed:
            for sample in shard.samples():
                ids.add(sample.key)
                ordered.append(sample.key)
            return ids
        chunk: list[dict[str, Any]] = []
        number = 0
        started = last_said = time.monotonic()
        for count, wire in enumerate(self._hashed(shard, state, ids, ordered), start=1):
            if wire is not None:
                chunk.append(wire)
            if count % state.chunk_size == 0:
                self._send_chunk(folder, state, number, chunk)
                number, chunk = number + 1, []
            if self.settings.progress and time.monotonic() - last_said > PROGRESS_EVERY:
                last_said = time.monotonic()
                rate = count / (last_said - started)
                self.say(f"  {shard.name}: {count:,} samples read ({rate:,.1f} items/s)")
        if chunk:
            self._send_chunk(folder, state, number, chunk)
        self.registry.post(f"screenings/{self._screening_id(folder, state)}/close")
        state.closed = True
        _write_json(folder / "state.json", asdict(state))
        return ids

    def _send_chunk(
        self, folder: Path, state: ShardState, number: int, items: list[dict[str, Any]]
    ) -> None:
        if number in state.sent_chunks or not items:
            return
        self.chunks.send(self._screening_id(folder, state), number, items)
        state.sent_chunks.append(number)
        _write_json(folder / "state.json", asdict(state))

    def _wait(self, screening_id: str) -> dict[str, Any]:
        timeout = self.settings.timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        while deadline is None or time.monotonic() < deadline:
            screening = self.registry.get(f"screenings/{screening_id}")
            if screening["status"] == "finished":
                return dict(screening)
            time.sleep(self.settings.poll_seconds)
        raise ApiError(
            f"screening {screening_id} did not finish within {timeout} s; run the same command "
            "again later to collect its results"
        )

    def _write_results(
        self,
        folder: Path,
        screening: dict[str, Any],
        chunks: list[list[str]],
        ids: set[str],
    ) -> Counter[str]:
        """results.parquet, streamed from the decisions; a sample the registry did not answer
        for is written as invalid (fail closed)."""
        passing = self.settings.passing()
        ids = set(ids)  # the caller's set stays whole: it counts the shard's samples
        counts: Counter[str] = Counter()
        draft = folder / "results.parquet.part"
        rows: list[dict[str, Any]] = []
        with pq.ParquetWriter(draft, RESULTS_SCHEMA) as writer:

            def add(key: str, decision: str, reason: str, works: list[int], credit: Any) -> None:
                counts[decision] += 1
                rows.append(
                    {
                        "key": key,
                        "decision": decision,
                        "passes": decision in passing,
                        "reason": reason,
                        "matched_work_ids": works,
                        "credit": json.dumps(credit, ensure_ascii=False),
                    }
                )
                if len(rows) == RESULT_BATCH:
                    writer.write_batch(pa.RecordBatch.from_pylist(rows, schema=RESULTS_SCHEMA))
                    rows.clear()

            for decision in every_decision(self.registry, screening, chunks):
                if decision["id"] not in ids:
                    continue
                ids.discard(decision["id"])
                works = sorted({match["work_id"] for match in decision["matches"]})
                add(
                    decision["id"],
                    decision["decision"],
                    decision["reason"],
                    works,
                    decision["credit"],
                )
            for key in sorted(ids):
                add(key, "invalid", "no decision was returned", [], [])
            if rows:
                writer.write_batch(pa.RecordBatch.from_pylist(rows, schema=RESULTS_SCHEMA))
        draft.replace(folder / "results.parquet")
        return counts

    # --- the filtered copy --------------------------------------------------------------

    def _write_filtered(self, shard: Shard, folder: Path, *, only_if_missing: bool = False) -> None:
        target_folder = self.settings.filtered_out
        if target_folder is None:
            return
        target_folder.mkdir(parents=True, exist_ok=True)
        suffix = {"webdataset": ".tar", "parquet": ".parquet"}.get(shard.kind, "")
        target = target_folder / f"{shard.name}{suffix}"
        uids = target_folder / f"{shard.name}.uids.npy"
        if only_if_missing and target.exists() and uids.exists():
            return
        credits = passing_credits(folder / "results.parquet")
        writers = {"webdataset": write_filtered_tar, "parquet": write_filtered_parquet}
        writers.get(shard.kind, write_filtered_hf)(shard, target, credits)
        np.save(uids, np.array(list(credits), dtype=str))


def passing_credits(results: Path) -> dict[str, str]:
    """The passing samples of a shard's results, key -> credit (JSON), in order."""
    credits: dict[str, str] = {}
    source = pq.ParquetFile(results)
    for batch in source.iter_batches(columns=["key", "passes", "credit"], batch_size=RESULT_BATCH):
        columns = batch.to_pydict()
        for key, passes, credit in zip(
            columns["key"], columns["passes"], columns["credit"], strict=True
        ):
            if passes:
                credits[key] = credit
    return credits
