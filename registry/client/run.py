"""One screening run: create, send chunks, close, wait, fetch the decisions, write the outputs.

Everything needed to resume is kept beside the output (OUT.state.json and the fingerprint cache),
so an interrupted run picks up where it stopped without re-sending finished chunks.
"""

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests
from tqdm import tqdm

from registry.client.api import ApiError, checked
from registry.client.hashing import fingerprint_all
from registry.client.inputs import InputItem

NDJSON = "application/x-ndjson"
STREAM_READ_BYTES = 1 << 16


@dataclass
class RunState:
    api: str
    purpose: str
    mode: str
    chunk_size: int
    screening_id: str | None = None
    sent_chunks: list[int] = field(default_factory=list)
    closed: bool = False

    @classmethod
    def load_or_new(cls, path: Path, fresh: "RunState") -> "RunState":
        if not path.exists():
            return fresh
        saved = cls(**json.loads(path.read_text(encoding="utf-8")))
        if (saved.api, saved.purpose, saved.mode, saved.chunk_size) != (
            fresh.api,
            fresh.purpose,
            fresh.mode,
            fresh.chunk_size,
        ):
            raise ApiError(
                f"{path} belongs to a run with other settings; remove it to start afresh."
            )
        return saved

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


def _chunks(wires: list[dict[str, Any]], size: int) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    for number, start in enumerate(range(0, len(wires), size)):
        yield number, wires[start : start + size]


class ScreeningRun:
    def __init__(self, http: requests.Session, state: RunState, outputs: Outputs, progress: bool):
        self.http, self.state, self.outputs, self.progress = http, state, outputs, progress

    def url(self, path: str) -> str:
        return f"{self.state.api.rstrip('/')}/api/v1/{path}"

    def _start(self) -> str:
        if self.state.screening_id is None:
            body: dict[str, Any] = {
                "purpose": self.state.purpose,
                "mode": self.state.mode,
                "keep_open": True,
            }
            created = checked(self.http.post(self.url("screenings"), json=body))
            self.state.screening_id = created["id"]
            self.state.save(self.outputs.state)
        return self.state.screening_id

    def _send(self, screening_id: str, wires: list[dict[str, Any]]) -> None:
        chunks = list(_chunks(wires, self.state.chunk_size))
        for number, items in tqdm(chunks, desc="sending", unit="chunk", disable=not self.progress):
            if number in self.state.sent_chunks:
                continue
            body: dict[str, Any] = {"number": number, "items": items}
            checked(self.http.post(self.url(f"screenings/{screening_id}/chunks"), json=body))
            self.state.sent_chunks.append(number)
            self.state.save(self.outputs.state)
        if not self.state.closed:
            checked(self.http.post(self.url(f"screenings/{screening_id}/close")))
            self.state.closed = True
            self.state.save(self.outputs.state)

    def _wait(
        self, screening_id: str, poll_seconds: float, timeout: float | None
    ) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        with tqdm(desc="screening", unit="item", disable=not self.progress) as bar:
            while deadline is None or time.monotonic() < deadline:
                screening = checked(self.http.get(self.url(f"screenings/{screening_id}")))
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

    def _decisions(self, screening_id: str) -> Iterator[dict[str, Any]]:
        response = self.http.get(
            self.url(f"screenings/{screening_id}/items"), headers={"Accept": NDJSON}, stream=True
        )
        if response.status_code >= 400:
            checked(response)
        # Large reads: requests' default of 512 bytes costs a call per few lines.
        for line in response.iter_lines(chunk_size=STREAM_READ_BYTES):
            if line:
                yield json.loads(line)

    def run(
        self, items: list[InputItem], *, poll_seconds: float = 1.0, timeout: float | None = None
    ) -> dict[str, Any]:
        wires = fingerprint_all(items, self.outputs.cache, progress=self.progress)
        screening_id = self._start()
        self._send(screening_id, wires)
        screening = self._wait(screening_id, poll_seconds, timeout)
        hashes = [wire.get("sha256") for wire in wires]
        decisions = self._decisions(screening_id)
        write_outputs(self.outputs, items, screening, decisions, self.state, hashes=hashes)
        return screening


def write_outputs(
    outputs: Outputs,
    items: list[InputItem],
    screening: dict[str, Any],
    decisions: Iterator[dict[str, Any]],
    state: RunState,
    *,
    hashes: Sequence[str | None] = (),
) -> None:
    """One line per input in input order, the manifest of passing items, and the receipt."""
    by_position = {
        decision["chunk"] * state.chunk_size + decision["position"]: decision
        for decision in decisions
    }
    passing = {"allowed"} if state.mode == "consent_required" else {"allowed", "unregistered"}
    with (
        outputs.results.open("w", encoding="utf-8") as results,
        outputs.manifest.open("w", encoding="utf-8") as manifest,
    ):
        for position, item in enumerate(items):
            decision = by_position.get(position)
            line = {
                "path": item.path,
                "id": item.id,
                # What the receipt binds the decision to (verify-receipt --results checks it).
                "sha256": hashes[position] if position < len(hashes) else None,
                "screening_id": screening["id"],
                # Fail closed: an input the server did not answer for is never passed on.
                "decision": decision["decision"] if decision else "invalid",
                "reason": decision["reason"] if decision else "no decision was returned",
                "matches": decision["matches"] if decision else [],
                "credit": decision["credit"] if decision else [],
            }
            results.write(json.dumps(line, ensure_ascii=False) + "\n")
            if line["decision"] in passing:
                entry = {
                    "path": item.path,
                    "id": item.id,
                    "url": item.url,
                    "credit": line["credit"],
                }
                manifest.write(json.dumps(entry, ensure_ascii=False) + "\n")
    outputs.receipt.write_text(json.dumps(screening["receipt"], indent=2, ensure_ascii=False))
