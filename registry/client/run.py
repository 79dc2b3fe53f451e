"""One screening run: create, send chunks, close, wait, fetch the decisions, write the outputs.

Everything needed to resume is kept beside the output (OUT.state.json and the fingerprint cache
OUT.fingerprints.jsonl), so an interrupted run picks up where it stopped without re-sending
finished chunks. Once a run has written its outputs, the next run of the same command screens
again against the registry as it is then; `--reuse` keeps the finished screening instead.
"""

import json
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from tqdm import tqdm

from registry.client.api import (
    ApiError,
    Registry,
    applied_minimum,
    refuse_other_fingerprint_version,
)
from registry.client.chunks import ChunkSender
from registry.client.collect import STREAM_READ_BYTES, every_decision, leaf_of, stream_decisions
from registry.client.hashing import fingerprint_all, load_cache
from registry.client.inputs import InputItem, SkippedFile
from registry.gatekeeper import passing_decisions
from registry.merkle import leaf_hash

FEED_PAGE = 500
__all__ = ["STREAM_READ_BYTES", "ScreeningRun", "stream_decisions", "write_outputs"]


@dataclass
class RunState:
    api: str
    purpose: str
    mode: str
    chunk_size: int
    # Recorded so that a resumed or reused run cannot mix two minimums; a state written before
    # the option existed was a run at the registry's default.
    min_assurance: str = "verified"
    screening_id: str | None = None
    sent_chunks: list[int] = field(default_factory=list)
    closed: bool = False
    # The outputs were written: the next run screens again unless told to reuse this one.
    finished: bool = False
    # The registry's request limit when the screening was created: no chunk's JSON body is
    # larger (a region adds about 2 KB to an item). 0: written by a client that sized chunks
    # by count alone, which a resumed run keeps doing so that its chunks stay the same.
    chunk_bytes: int = 0

    @classmethod
    def load(cls, path: Path) -> "RunState | None":
        if not path.exists():
            return None
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            known = {name.name for name in fields(cls)}
            if "finished" not in saved:
                # Written by a client that did not record it: the receipt, written last,
                # shows the run finished, so a rerun must not hand back its decisions.
                receipt = path.with_name(path.name.removesuffix(".state.json") + ".receipt.json")
                saved["finished"] = bool(saved.get("closed")) and receipt.exists()
            return cls(**{key: value for key, value in saved.items() if key in known})
        except (ValueError, TypeError, AttributeError):
            raise ApiError(
                f"{path} is not a run's state; remove it, or run with --restart."
            ) from None

    def same_settings(self, other: "RunState") -> bool:
        mine = (self.api.rstrip("/"), self.purpose, self.mode, self.chunk_size, self.min_assurance)
        theirs = (other.api.rstrip("/"), other.purpose, other.mode, other.chunk_size)
        return mine == (*theirs, other.min_assurance)

    def save(self, path: Path) -> None:
        draft = path.with_suffix(".tmp")
        draft.write_text(json.dumps(asdict(self)), encoding="utf-8")
        draft.replace(path)  # atomic: an interruption leaves the old state or the new


@dataclass(frozen=True)
class Outputs:
    results: Path

    def sibling(self, suffix: str) -> Path:
        return self.results.with_name(self.results.stem + suffix)

    @property
    def state(self) -> Path:
        return self.sibling(".state.json")

    @property
    def cache(self) -> Path:
        return self.sibling(".fingerprints.jsonl")

    @property
    def manifest(self) -> Path:
        return self.sibling(".manifest.jsonl")

    @property
    def receipt(self) -> Path:
        return self.sibling(".receipt.json")


@dataclass(frozen=True)
class Withdrawals:
    """What the consent-changes feed says about a reused screening."""

    current_sequence: int
    item_ids: dict[str, int]  # item id -> the ledger sequence that withdrew its consent


# A chunk's JSON body around its items: {"number": N, "items": [...]}, N of up to 20 digits.
_CHUNK_ENVELOPE = len(json.dumps({"number": 10**20, "items": []}))


def _chunks(
    wires: list[dict[str, Any]], size: int, max_bytes: int = 0
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """At most `size` items a chunk, and, when `max_bytes` is set, no more than fit in a JSON
    body of that many bytes (as ChunkSender encodes it). The same items always give the same
    chunks: a resumed run and the collection of decisions rebuild them."""
    number, used = 0, _CHUNK_ENVELOPE
    chunk: list[dict[str, Any]] = []
    for wire in wires:
        cost = len(json.dumps(wire, allow_nan=False).encode()) + len(", ")
        if chunk and (len(chunk) >= size or (max_bytes and used + cost > max_bytes)):
            yield number, chunk
            number, chunk, used = number + 1, [], _CHUNK_ENVELOPE
        chunk.append(wire)
        used += cost
    if chunk:
        yield number, chunk


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class ScreeningRun:
    def __init__(
        self,
        registry: Registry,
        state: RunState,
        outputs: Outputs,
        progress: bool,
        *,
        resuming: bool = False,
        say: Callable[[str], None] = _stderr,
        wire: str = "auto",
    ):
        self.registry, self.state, self.outputs = registry, state, outputs
        self.progress, self.resuming, self.say = progress, resuming, say
        self.chunks = ChunkSender(registry, wire=wire, say=say)

    def _start(self) -> str:
        if self.state.screening_id is None:
            body: dict[str, Any] = {
                "purpose": self.state.purpose,
                "mode": self.state.mode,
                "min_assurance": self.state.min_assurance,
                "keep_open": True,
            }
            limits = self.registry.get("matching").get("limits", {})
            self.state.chunk_bytes = int(limits.get("max_request_bytes") or 0)
            created = self.registry.post("screenings", json=body)
            self.state.screening_id = created["id"]
            self.state.save(self.outputs.state)
        return self.state.screening_id

    def _send(self, screening_id: str, wires: list[dict[str, Any]]) -> None:
        chunks = list(_chunks(wires, self.state.chunk_size, self.state.chunk_bytes))
        unsent = [
            (number, items) for number, items in chunks if number not in self.state.sent_chunks
        ]
        with tqdm(
            total=len(chunks),
            initial=len(chunks) - len(unsent),
            desc="sending",
            unit="chunk",
            disable=not self.progress,
        ) as bar:
            # Two chunks in flight; each is recorded once the registry has all it needs.
            for number in self.chunks.send_all(screening_id, unsent):
                self.state.sent_chunks.append(number)
                self.state.save(self.outputs.state)
                bar.update()
        if not self.state.closed:
            self.registry.post(f"screenings/{screening_id}/close")
            self.state.closed = True
            self.state.save(self.outputs.state)

    def _wait(
        self, screening_id: str, poll_seconds: float, timeout: float | None
    ) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        with tqdm(desc="screening", unit="item", disable=not self.progress) as bar:
            while deadline is None or time.monotonic() < deadline:
                screening = self.registry.get(f"screenings/{screening_id}")
                bar.total = screening["progress"]["total"]
                bar.n = screening["progress"]["done"]
                bar.refresh()
                if screening["status"] == "finished":
                    return screening
                time.sleep(poll_seconds)
        raise ApiError(
            f"screening {screening_id} did not finish within {timeout} s; run the same command "
            "again later to collect its results"
        )

    def _decisions(
        self,
        screening: dict[str, Any],
        wires: list[dict[str, Any]],
        hashes: Mapping[str, str | None],
    ) -> Iterator[dict[str, Any]]:
        """Every item's decision, each chunk checked against the signed receipt's root."""
        chunks = _chunks(wires, self.state.chunk_size, self.state.chunk_bytes)
        chunk_ids = [[str(wire["id"]) for wire in items] for _, items in chunks]
        return every_decision(self.registry, screening, chunk_ids, hashes)

    def _say_where_it_resumes(self, cached: int, wires: list[dict[str, Any]]) -> None:
        state = self.state
        if not self.resuming:
            return
        if state.screening_id is None:
            self.say(
                f"Resuming the interrupted run: {cached} of {len(wires)} images were hashed "
                "already."
            )
            return
        chunks = len(list(_chunks(wires, state.chunk_size, state.chunk_bytes)))
        sent = len(set(state.sent_chunks))
        where = (
            "every chunk was sent; collecting its decisions"
            if state.closed
            else f"{sent} of {chunks} chunks were sent already"
        )
        self.say(f"Resuming screening {state.screening_id}: {where}.")

    def run(
        self,
        items: list[InputItem],
        skipped: list[SkippedFile],
        *,
        poll_seconds: float = 1.0,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        # Before hours of hashing: the registry answers, takes the key and matches this
        # client's fingerprints.
        self.registry.get("consent-changes", params={"limit": 1})
        refuse_other_fingerprint_version(self.registry)
        self.state.save(self.outputs.state)  # from here on, the same command resumes
        wires, cached = fingerprint_all(items, self.outputs.cache, progress=self.progress)
        self._say_where_it_resumes(cached, wires)
        screening_id = self._start()
        self._send(screening_id, wires)
        screening = self._wait(screening_id, poll_seconds, timeout)
        applied_minimum(screening, self.state.min_assurance)
        hashes = {wire["id"]: wire.get("sha256") for wire in wires}
        decisions = self._decisions(screening, wires, hashes)
        write_outputs(self.outputs, items, skipped, screening, decisions, self.state, hashes=hashes)
        self.state.finished = True
        self.state.save(self.outputs.state)
        return screening

    def withdrawals_since(self, screening: dict[str, Any]) -> Withdrawals:
        """The screening's items whose consent was withdrawn after the version it read."""
        after = int(screening["registry_version"]["sequence"])
        item_ids: dict[str, int] = {}
        while True:
            page = self.registry.get("consent-changes", params={"after": after, "limit": FEED_PAGE})
            for notice in page["results"]:
                sequence = notice["consent_event"]["sequence"]
                for affected in notice["affected"]:
                    if affected["screening_id"] == screening["id"]:
                        item_ids.update(dict.fromkeys(affected["item_ids"], sequence))
            if page["next_after"] is None:
                return Withdrawals(int(page["registry_version"]["sequence"]), item_ids)
            after = page["next_after"]

    def reuse(self, items: list[InputItem], skipped: list[SkippedFile]) -> dict[str, Any]:
        """The finished screening's decisions again, saying loudly how old they are."""
        assert self.state.screening_id is not None  # noqa: S101 - only a finished run is reused
        screening = self.registry.get(f"screenings/{self.state.screening_id}")
        withdrawals = self.withdrawals_since(screening)
        self._warn_reused(screening, withdrawals)
        # The fingerprints the screening was sent are in the cache: their hashes bind the lines.
        cached = load_cache(self.outputs.cache)
        hashes = {key: wire.get("sha256") for key, (_, wire) in cached.items()}
        # Chunks sized by bytes are rebuilt from the fingerprints sent (cached, not hashed again).
        if self.state.chunk_bytes:
            wires, _ = fingerprint_all(items, self.outputs.cache, progress=False)
        else:
            wires = [{"id": item.id} for item in items]
        decisions = self._decisions(screening, wires, hashes)
        write_outputs(
            self.outputs,
            items,
            skipped,
            screening,
            decisions,
            self.state,
            withdrawals,
            hashes=hashes,
        )
        return screening

    def _warn_reused(self, screening: dict[str, Any], withdrawals: Withdrawals) -> None:
        version = screening["registry_version"]["sequence"]
        self.say(
            f"REUSING screening {screening['id']} (finished {screening['finished_at']}): its "
            f"decisions reflect registry version {version}; the registry is now at version "
            f"{withdrawals.current_sequence}."
        )
        ids = sorted(withdrawals.item_ids)
        if ids:
            shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
            self.say(
                f"CHANGED SINCE: consent was withdrawn for {len(ids)} of its items ({shown}); "
                "they are marked withdrawn_since in the results and left out of the manifest."
            )
        else:
            self.say("No consent was withdrawn for its items since (the consent-changes feed).")
        self.say("Run without --reuse to screen again against the current registry.")


def _result_line(
    item: InputItem, screening_id: str, decision: dict[str, Any] | None, sha256: str | None
) -> dict[str, Any]:
    line = {
        "path": item.path,
        "id": item.id,
        # What the receipt binds the decision to (verify-receipt --results checks it).
        "sha256": sha256,
        "screening_id": screening_id,
        # Fail closed: an input the server did not answer for is never passed on.
        "decision": decision["decision"] if decision else "invalid",
        "reason": decision["reason"] if decision else "no decision was returned",
        "matches": decision["matches"] if decision else [],
        "credit": decision["credit"] if decision else [],
    }
    if decision:
        # The leaf as it was when its chunk's root checked out: verify-receipt names a line
        # changed since.
        line["leaf"] = leaf_hash(leaf_of({**decision, "id": item.id}, sha256)).hex()
    return line


def write_outputs(
    outputs: Outputs,
    items: list[InputItem],
    skipped: list[SkippedFile],
    screening: dict[str, Any],
    decisions: Iterator[dict[str, Any]],
    state: RunState,
    withdrawals: Withdrawals | None = None,
    *,
    hashes: Mapping[str, str | None],
) -> None:
    """One line per input file in input order (screened, then skipped), the manifest of
    passing items, and the receipt."""
    by_id = {decision["id"]: decision for decision in decisions}
    withdrawn = withdrawals.item_ids if withdrawals else {}
    passing = passing_decisions(state.mode)
    with (
        outputs.results.open("w", encoding="utf-8") as results,
        outputs.manifest.open("w", encoding="utf-8") as manifest,
    ):
        for item in items:
            line = _result_line(item, screening["id"], by_id.get(item.id), hashes.get(item.id))
            if item.id in withdrawn:
                line["withdrawn_since"] = withdrawn[item.id]
            results.write(json.dumps(line, ensure_ascii=False) + "\n")
            if line["decision"] in passing and item.id not in withdrawn:
                entry = {
                    "path": item.path,
                    "id": item.id,
                    "url": item.url,
                    "credit": line["credit"],
                }
                manifest.write(json.dumps(entry, ensure_ascii=False) + "\n")
        for skip in skipped:
            line = {"path": skip.path, "skipped": skip.reason}
            results.write(json.dumps(line, ensure_ascii=False) + "\n")
    outputs.receipt.write_text(json.dumps(screening["receipt"], indent=2, ensure_ascii=False))
