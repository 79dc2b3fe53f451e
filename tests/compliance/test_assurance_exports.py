"""Every export carries the assurance level of each permission an allowed item used."""

import csv
import io
import json

from tests.compliance.test_exports import export_text


def test_the_china_csv_names_each_permissions_assurance(screened, acme, works):
    rows = list(csv.DictReader(io.StringIO(export_text("china-art7", acme, "csv"))))

    by_work = {row["work_id"]: row for row in rows}
    assert by_work[str(works["allowed"].pk)]["assurance"] == "operator_verified"


def test_the_croissant_records_carry_the_assurance(screened, acme):
    document = export_text("croissant", acme)

    assert '"items/assurance"' in document
    assert '"items/assurance": "operator_verified"' in document


def test_the_screening_report_names_the_minimum_and_what_allowed_items_relied_on(screened, acme):
    (summary,) = json.loads(export_text("screening-report", acme, "json"))["screenings"]
    (row,) = csv.DictReader(io.StringIO(export_text("screening-report", acme, "csv")))

    # Two allowed items, both relying on alice's staff-verified claims.
    assert summary["min_assurance"] == "verified"
    assert summary["allowed_by_assurance"] == {"operator_verified": 2}
    assert row["min_assurance"] == "verified"
    assert json.loads(row["allowed_by_assurance"]) == {"operator_verified": 2}


def test_the_printable_report_says_the_minimum_in_words(screened, acme):
    page = export_text("screening-report", acme, "html")

    assert "Minimum assurance" in page and "Any verified level" in page
    assert "Verified by the registry&#x27;s staff (2)" in page


def test_the_eu_pack_says_whose_permission_counted(screened, acme):
    pack = json.loads(export_text("eu-ai-act", acme))

    (entry,) = pack["copyright_policy_evidence"]["honouring"]["rights_holder_assurance"]
    assert entry == {
        "screening_id": str(screened.id),
        "min_assurance": "verified",
        "allowed_by_assurance": {"operator_verified": 2},
    }
