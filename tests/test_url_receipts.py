"""The scope a URL check's signed documents state, in plain Python (registry/url_receipts.py)."""

import pytest

from registry.url_receipts import (
    URL_SCOPE_NOTE,
    run_document,
    scope_fields,
    states_scope,
)


def _attestation(version, **extra):
    document = {
        "version": version,
        "organization": {"id": 1, "name": "Acme AI"},
        "purpose": "ai_training",
        "mode": "consent_required",
        "registry_version": {"sequence": 7, "hash": "ab"},
        "urls": 2,
        "counts": {"allowed": 1, "denied": 0, "unknown": 1},
        "decisions_root": "00" * 32,
        **extra,
    }
    return {"document": document, "signature": "unused here"}


def test_a_run_of_scoped_batches_states_its_scope():
    run = run_document([_attestation(2, **scope_fields())], source="a.parquet", url_column="url")

    assert (run["version"], run["scope"], run["scope_note"]) == (2, "url", URL_SCOPE_NOTE)
    assert states_scope(run)


def test_a_run_from_before_the_scope_keeps_version_1_so_its_receipt_still_verifies():
    run = run_document([_attestation(1)], source="a.parquet", url_column="url")

    assert run["version"] == 1 and "scope" not in run
    assert not states_scope(run)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"scope": "image", "scope_note": URL_SCOPE_NOTE},
        {"scope": "url"},
        {"scope": "url", "scope_note": ""},
    ],
)
def test_a_version_2_document_without_the_url_scope_is_refused(fields):
    with pytest.raises(ValueError, match="about URLs only"):
        states_scope({"version": 2, **fields})


def test_a_scope_other_than_url_is_refused_whatever_the_version():
    with pytest.raises(ValueError, match="about URLs only"):
        states_scope({"version": 1, "scope": "image", "scope_note": "screened"})


def test_a_run_with_a_batch_from_before_the_scope_does_not_claim_it_signed():
    batches = [_attestation(1), _attestation(2, **scope_fields())]

    run = run_document(batches, source="a.parquet", url_column="url")

    assert run["version"] == 1 and "scope" not in run
