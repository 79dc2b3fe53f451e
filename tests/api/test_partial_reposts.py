"""What a screening answers for a re-post found only through version 5's weak paths (a
registered 16:9 window, the picture put upright): it may deny, it never allows, whatever the
artist's terms say, since consent covers a close copy of the whole picture."""

from typing import Any

import pytest
from PIL import Image

from registry.demo_art import artwork
from registry.fingerprints import fingerprint_image
from registry.gatekeeper import ReasonCode
from tests.conftest import _SEED_BASE
from tests.fingerprints.images import encode


def cut_16x9(seed: int) -> bytes:
    """Artwork `seed` (wider than tall, under 16:9) cut to its widest 16:9 window, a third of
    the way down."""
    image = artwork(_SEED_BASE + seed)
    kept = round(image.width * 9 / 16)
    top = round((image.height - kept) * 0.37)
    return encode(image.crop((0, top, image.width, top + kept)), "JPEG", quality=85)


def turned(seed: int) -> bytes:
    """Artwork `seed` turned 12 degrees on a white canvas grown to hold it."""
    image = artwork(_SEED_BASE + seed)
    return encode(
        image.rotate(12, Image.Resampling.BICUBIC, expand=True, fillcolor="white"),
        "JPEG",
        quality=85,
    )


EDITS = {"cut to 16:9": cut_16x9, "turned 12 degrees": turned}


def found_as_expected(edit: str, match: dict[str, Any]) -> bool:
    """The 16:9 cut through a registered window; the turned copy through its upright region."""
    if edit == "cut to 16:9":
        return str(match["variant"]).startswith("crop_16x9_") and "region" not in match
    return "region" in match


def _check(client: Any, items: list[dict[str, Any]], mode: str) -> dict[str, dict[str, Any]]:
    body = {"purpose": "ai_training", "mode": mode, "items": items}
    response = client.post("/api/v1/check", body, format="json")
    assert response.status_code == 200, response.content
    return {entry["id"]: entry for entry in response.json()["items"]}


@pytest.mark.parametrize("edit", EDITS)
def test_a_partial_repost_of_an_allowed_work_is_named_but_not_allowed(acme_api, works, edit):
    item = {"id": "repost", **fingerprint_image(EDITS[edit](1)).to_wire()}

    decided = _check(acme_api, [item], "consent_required")["repost"]

    assert decided["decision"] == "unregistered"
    assert decided["passes"] is False
    assert ReasonCode.LOOSE_MATCH in decided["reason"]
    assert [match["work_id"] for match in decided["matches"]] == [works["allowed"].pk]
    assert not any(match["strong"] for match in decided["matches"])
    assert found_as_expected(edit, decided["matches"][0])


@pytest.mark.parametrize("mode", ["consent_required", "respect_opt_outs"])
@pytest.mark.parametrize("edit", EDITS)
def test_a_partial_repost_of_a_refused_work_is_denied(acme_api, works, edit, mode):
    item = {"id": "repost", **fingerprint_image(EDITS[edit](2)).to_wire()}

    decided = _check(acme_api, [item], mode)["repost"]

    assert decided["decision"] == "denied"
    assert [match["work_id"] for match in decided["matches"]] == [works["refused"].pk]
    assert found_as_expected(edit, decided["matches"][0])
