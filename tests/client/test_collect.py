"""The client rebuilds every decision of a screening from the listed items and the counted
rest, and refuses to write results whose roots are not the signed receipt's (fail closed)."""

import json
from typing import Any

import pytest

from registry.client.api import ApiError
from registry.client.collect import every_decision
from registry.merkle import decision_leaf, root_of_leaves

SHA = {"a": "1" * 64, "b": "2" * 64, "c": "3" * 64}
ALLOWED = {"decision": "allowed", "reason": "work 7: allowed", "matches": [{"work_id": 7}]}
UNREGISTERED = "no registered work matches"


class _Lines:
    status_code = 200

    def __init__(self, lines: list[dict[str, Any]]) -> None:
        self.lines = [json.dumps(line).encode() for line in lines]

    def iter_lines(self, chunk_size: int) -> list[bytes]:
        return self.lines


class _Registry:
    """Answers as the registry does: one listed item (b, allowed) and the rest by position."""

    def __init__(self, unlisted: list[list[Any]], root: str) -> None:
        self.unlisted, self.root = unlisted, root

    def request(self, method: str, path: str, **options: Any) -> _Lines:
        return _Lines([{**ALLOWED, "id": "b", "credit": [], "chunk": 0, "position": 1}])

    def get(self, path: str, **options: Any) -> dict[str, Any]:
        chunk = {"number": 0, "items": 3, "merkle_root": self.root, "unlisted": self.unlisted}
        return {"results": [chunk], "next": None}


def _signed_root(first: str) -> str:
    return root_of_leaves(
        [
            decision_leaf("a", first, UNREGISTERED, [], SHA["a"]),
            decision_leaf("b", "allowed", "work 7: allowed", [7], SHA["b"]),
            decision_leaf("c", "unregistered", UNREGISTERED, [], SHA["c"]),
        ]
    )


def _screening(root: str) -> dict[str, Any]:
    return {"id": "s", "receipt": {"document": {"version": 3, "chunks": [[0, 3, root]]}}}


def test_the_counted_items_are_named_by_position_and_checked_against_the_receipt():
    root = _signed_root("unregistered")
    registry = _Registry(
        [[0, 1, "unregistered", UNREGISTERED], [2, 1, "unregistered", UNREGISTERED]], root
    )

    decided = list(every_decision(registry, _screening(root), [["a", "b", "c"]], SHA))  # type: ignore[arg-type]

    assert [(d["id"], d["decision"]) for d in decided] == [
        ("a", "unregistered"),
        ("b", "allowed"),
        ("c", "unregistered"),
    ]


def test_decisions_that_do_not_add_up_to_the_signed_root_are_refused():
    """The registry's page says a is unregistered, its signed receipt that a was denied."""
    signed = _signed_root("denied")
    served = [[0, 1, "unregistered", UNREGISTERED], [2, 1, "unregistered", UNREGISTERED]]
    registry = _Registry(served, _signed_root("unregistered"))

    with pytest.raises(ApiError, match="chunk 0 do not add up to the Merkle root"):
        list(every_decision(registry, _screening(signed), [["a", "b", "c"]], SHA))  # type: ignore[arg-type]


def test_a_position_nobody_answered_for_is_invalid_and_breaks_the_root():
    root = _signed_root("unregistered")
    registry = _Registry([[2, 1, "unregistered", UNREGISTERED]], root)  # a is missing

    decided = list(every_decision(registry, _screening(root), [["a", "b", "c"]]))  # type: ignore[arg-type]
    assert decided[0]["decision"] == "invalid"
    with pytest.raises(ApiError):
        list(every_decision(registry, _screening(root), [["a", "b", "c"]], SHA))  # type: ignore[arg-type]
