"""Screening from a team's own pipeline: plain functions over lists and columns, for Ray Data's
`map_batches`, Spark's `mapInPandas` or a plain loop (docs/client.md shows each).

`fingerprint_batch` runs locally and never sends an image anywhere; `screen_batch` sends only
fingerprints to the registry's synchronous check. Fail closed: a sample without a readable image
is `invalid` with its reason, and an unreachable registry raises instead of passing anything.
"""

import atexit
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from registry.client.api import ApiError, Registry
from registry.client.hashing import image_fields

# The registry's default published maximum for one synchronous check (GET /api/v1/matching).
CHECK_BATCH = 1000
NO_IMAGE = "the sample holds no image"
# The columns screen_columns adds to a batch.
DECISION, PASSES, REASON, WORK_IDS, CREDIT = (
    "consentry_decision",
    "consentry_passes",
    "consentry_reason",
    "consentry_work_ids",
    "consentry_credit",
)


def image_bytes(value: Any) -> bytes | None:
    """The encoded image in a cell: raw bytes, or a Hugging Face `Image(decode=False)` struct."""
    if isinstance(value, Mapping):
        value = value.get("bytes")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return None


def fingerprint_one(data: bytes | None) -> dict[str, Any]:
    """The wire fingerprint fields of one image, or `unreadable` with the reason."""
    if not data:
        return {"unreadable": NO_IMAGE}
    return image_fields(data)


def fingerprint_batch(images: Sequence[Any]) -> list[dict[str, Any]]:
    """One wire fingerprint per image (encoded bytes, or a Hugging Face image struct), in
    order; an image that does not decode, or a cell without one, gets `{"unreadable": reason}`
    instead of raising."""
    return [fingerprint_one(image_bytes(image)) for image in images]


# One session per worker process and registry: Ray and Spark call us once per batch.
_registries: dict[tuple[str, str], Registry] = {}


def _registry(api: str, key: str) -> Registry:
    if (api, key) not in _registries:
        _registries[api, key] = Registry(api, key)
    return _registries[api, key]


@atexit.register
def close_registries() -> None:
    """Close the kept sessions: each holds a connection, and with it one of the server's
    request threads, until it is closed."""
    while _registries:
        _registries.popitem()[1].close()


def check_wires(
    registry: Registry, wires: Sequence[dict[str, Any]], *, purpose: str, mode: str
) -> list[dict[str, Any]]:
    """The registry's decision for each wire item, in order, via POST /api/v1/check."""
    decisions: list[dict[str, Any]] = []
    for start in range(0, len(wires), CHECK_BATCH):
        # Positional ids: a batch's own keys need not be unique for the check to answer.
        items = [
            {**wire, "id": str(number)}
            for number, wire in enumerate(wires[start : start + CHECK_BATCH])
        ]
        answer = registry.post("check", json={"purpose": purpose, "mode": mode, "items": items})
        if len(answer["items"]) != len(items):
            raise ApiError(f"the check answered {len(answer['items'])} of {len(items)} items")
        decisions += answer["items"]
    return decisions


def _row(key: Any, decision: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": key,
        "decision": decision["decision"],
        "passes": bool(decision["passes"]),
        "reason": decision["reason"],
        "matched_work_ids": sorted({match["work_id"] for match in decision["matches"]}),
        "credit": json.dumps(decision["credit"], ensure_ascii=False),
    }


def screen_batch(
    images: Sequence[Any],
    *,
    api: str,
    key: str,
    purpose: str,
    mode: str = "consent_required",
    keys: Sequence[Any] | None = None,
    urls: Sequence[str | None] | None = None,
) -> list[dict[str, Any]]:
    """Decide a batch of images (bytes, or `{"bytes": ...}` structs): one dict per image with
    key, decision, passes, reason, matched_work_ids and credit (a JSON list), in order."""
    wires = fingerprint_batch(images)
    for wire, url in zip(wires, urls or [], strict=False):
        if isinstance(url, str) and url:
            wire["url"] = url
    decisions = check_wires(_registry(api, key), wires, purpose=purpose, mode=mode)
    names = list(keys) if keys is not None else list(range(len(wires)))
    return [_row(name, decision) for name, decision in zip(names, decisions, strict=True)]


def screen_columns(
    batch: Mapping[str, Any],
    *,
    api: str,
    key: str,
    purpose: str,
    mode: str = "consent_required",
    image_column: str = "jpg",
    url_column: str | None = "url",
) -> dict[str, Any]:
    """The batch with five columns added (consentry_decision, _passes, _reason, _work_ids,
    _credit): the shape Ray Data's `map_batches` passes in and expects back."""
    images = list(batch[image_column])
    urls = list(batch[url_column]) if url_column and url_column in batch else None
    rows = screen_batch(images, api=api, key=key, purpose=purpose, mode=mode, urls=urls)
    added = {
        DECISION: [row["decision"] for row in rows],
        PASSES: [row["passes"] for row in rows],
        REASON: [row["reason"] for row in rows],
        WORK_IDS: [row["matched_work_ids"] for row in rows],
        CREDIT: [row["credit"] for row in rows],
    }
    return {**batch, **added}


def screen_pandas(frames: Iterator[Any], **options: Any) -> Iterator[Any]:
    """For Spark's `mapInPandas`: each pandas DataFrame with the five columns added."""
    for frame in frames:
        added = screen_columns({column: frame[column] for column in frame.columns}, **options)
        yield frame.assign(
            **{name: added[name] for name in (DECISION, PASSES, REASON, WORK_IDS, CREDIT)}
        )


__all__ = ["fingerprint_batch", "screen_batch", "screen_columns", "screen_pandas"]
