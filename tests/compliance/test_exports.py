"""Each compliance export's content for the known fixture, through the command and the API."""

import csv
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from registry.exports.cells import safe_cell
from registry.exports.kinds import prepare_export
from registry.models import ConsentEvent, Organization
from registry.receipts import public_pem, verify
from registry.selectors.compliance import ExportScope
from registry.selectors.ledger import registry_version
from registry.signing import receipt_signing_key
from tests.api.conftest import api_client, item
from tests.compliance.conftest import screen
from tests.factories import OrganizationFactory


def export_text(kind, organization, fmt=None, **scope):
    prepared = prepare_export(kind, fmt, ExportScope(organization=organization, **scope))
    return "".join(prepared.chunks())


def test_the_screening_report_counts_decisions_and_reasons_with_the_receipt(screened, acme):
    report = json.loads(export_text("screening-report", acme, "json"))

    (summary,) = report["screenings"]
    assert summary["screening_id"] == str(screened.id)
    assert (summary["purpose"], summary["mode"]) == ("ai_training", "consent_required")
    assert summary["counts"] == {"allowed": 2, "denied": 1, "unregistered": 1, "invalid": 1}
    assert (summary["passed"], summary["excluded"]) == (2, 3)
    assert summary["reasons"] == {
        "allowed: allowed": 1,
        "allowed: licensed": 1,
        "denied: not_allowed": 1,
        "invalid: malformed fingerprint": 1,
        "unregistered: no registered work matches": 1,
    }
    # Rows only where they matter: the unregistered and invalid items are counted, not listed.
    assert summary["coverage"] == {
        "listed_items": 3,
        "counted_only": {"unregistered": 1, "invalid": 1},
    }
    assert screened.items.count() == 3
    assert summary["registry_version"] == {
        "sequence": screened.registry_sequence,
        "hash": screened.registry_hash,
    }
    receipt = summary["receipt"]
    verify(receipt["document"], receipt["signature"], receipt_signing_key().public_key())
    assert report["registry_version"] == registry_version().as_dict()
    assert report["totals"]["items"] == 5 and report["totals"]["screenings"] == 1


def test_the_report_covers_only_the_period_asked(screened, acme):
    later = json.loads(export_text("screening-report", acme, "json", since=screened.finished_at))
    assert later["screenings"] == [] and later["totals"]["screenings"] == 0


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\x01x", "'\x01x"),
        ("plain", "plain"),
        (12, "12"),
    ],
)
def test_a_formula_or_control_character_start_is_defused(value, cell):
    assert safe_cell(value) == cell


def test_the_csv_report_escapes_cells_a_spreadsheet_would_run(screened, acme):
    Organization.objects.filter(pk=acme.pk).update(name="=cmd|' /C calc'!A0")
    acme.refresh_from_db()

    rows = list(csv.DictReader(io.StringIO(export_text("screening-report", acme, "csv"))))

    (row,) = rows
    assert row["organization"] == "'=cmd|' /C calc'!A0"
    assert (row["allowed"], row["denied"], row["unregistered"], row["invalid"]) == (
        "2",
        "1",
        "1",
        "1",
    )
    assert row["registry_sequence"] == str(screened.registry_sequence)
    assert json.loads(row["receipt"])["screening_id"] == str(screened.id)
    assert row["listed_items"] == "3"
    assert json.loads(row["counted_only"]) == {"unregistered": 1, "invalid": 1}


def test_the_china_csv_escapes_item_ids_and_urls(works, acme_client, acme, run_pending):
    hostile = [item("=1+1", 1, url="https://example.org/a"), item("@evil", 3)]
    screen(acme_client, hostile)
    run_pending()

    rows = list(csv.DictReader(io.StringIO(export_text("china-art7", acme, "csv"))))

    assert sorted(row["item_id"] for row in rows) == ["'=1+1", "'@evil"]


def test_the_printable_report_shows_counts_and_escapes_names(screened, acme):
    Organization.objects.filter(pk=acme.pk).update(name="<script>alert(1)</script>")
    acme.refresh_from_db()

    page = export_text("screening-report", acme, "html")

    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "@page" in page and screened.registry_hash in page
    assert "not allowed by the artist" in page and "denied: not_allowed" not in page
    assert "3 items that matched a registered work or were denied" in page
    assert "Merkle roots: 1 unregistered, 1 invalid" in page


def test_the_eu_ai_act_pack_shows_how_reservations_were_honoured(screened, acme):
    pack = json.loads(export_text("eu-ai-act", acme, screening_ids=(str(screened.id),)))

    assert pack["type"] == "consentry.eu-ai-act-evidence"
    policy = pack["copyright_policy_evidence"]
    assert policy["identification"]["registry_versions"] == [
        {
            "screening_id": str(screened.id),
            "sequence": screened.registry_sequence,
            "hash": screened.registry_hash,
        }
    ]
    (configuration,) = policy["identification"]["matching_configurations"]
    assert configuration["matching"] == screened.matching
    assert pack["dataset"]["totals"]["passed"] == 2
    excluded = {entry["id"]: entry for entry in pack["excluded_items"]}
    # Listed one by one: what a work refused; the unregistered and invalid rest as counts.
    assert set(excluded) == {"theirs"}
    assert excluded["theirs"]["reason_kinds"] == ["not_allowed"]
    coverage = pack["excluded_items_coverage"]
    assert coverage["counted_only"] == {"invalid": 1, "unregistered": 1}
    assert "Merkle root" in coverage["note"]
    assert len(excluded) + sum(coverage["counted_only"].values()) == 3
    section = pack["training_content_summary"]["3_data_processing_aspects"]
    measures = section["3.1_respect_of_reservation_of_rights_from_tdm_exception"]
    assert (
        f"registry version(s) {screened.registry_sequence}"
        in (measures["measures_implemented_before_training"])
    )
    assert "3.2_removal_of_illegal_content" in section


def test_the_china_record_names_work_artist_terms_and_grant_per_passing_item(screened, acme, works):
    header, *records = map(json.loads, export_text("china-art7", acme).splitlines())

    assert header["registry_version"] == registry_version().as_dict()
    assert header["screenings"][0]["receipt"]["document"]["screening_id"] == str(screened.id)
    by_item = {record["item_id"]: record for record in records}
    assert set(by_item) == {"mine", "licensed"}
    (mine,) = by_item["mine"]["works"]
    assert mine["work_id"] == works["allowed"].pk
    assert mine["artist"]["name"] == "Alice Liu"
    assert mine["terms"] == {
        "permission": "allowed",
        "license": "CC-BY-4.0",
        "attribution": "By Alice",
        "assurance": "operator_verified",
    }
    assert mine["grant"] is None
    (licensed,) = by_item["licensed"]["works"]
    assert licensed["terms"]["permission"] == "licensed"
    assert licensed["grant"]["reference"] == works["grant"].reference
    assert by_item["licensed"]["lawful_source"] == "licensed by the rights holder's grant"


def test_respect_opt_outs_lets_unregistered_items_pass_without_a_rights_record(
    works, acme_client, acme, run_pending
):
    screen(acme_client, [item("stranger", 40), item("mine", 1)], mode="respect_opt_outs")
    run_pending()

    header, record = map(json.loads, export_text("china-art7", acme).splitlines())

    # The passing unregistered item has no rights record to give: it is counted, not listed.
    assert record["item_id"] == "mine" and record["works"]
    (screening,) = header["screenings"]
    assert screening["counts"] == {"allowed": 1, "denied": 0, "unregistered": 1, "invalid": 0}
    assert screening["coverage"]["counted_only"] == {"unregistered": 1, "invalid": 0}
    assert "counted" in header["records_cover"] and "not listed" in header["records_cover"]


def test_croissant_states_the_unregistered_items_it_counts_but_does_not_list(
    works, acme_client, acme, run_pending
):
    screen(acme_client, [item("stranger", 40), item("mine", 1)], mode="respect_opt_outs")
    run_pending()

    document = json.loads(export_text("croissant", acme))

    records = document["recordSet"][0]["data"]
    assert [record["items/id"] for record in records] == ["mine"]
    assert "1 further item(s) passed as unregistered" in document["description"]
    assert "counted, not listed" in document["rai:dataLimitations"]


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def test_the_croissant_dataset_is_valid_under_mlcroissant(screened, acme, works, tmp_path):
    mlc = pytest.importorskip("mlcroissant")
    path = tmp_path / "dataset.json"
    path.write_text(export_text("croissant", acme))

    dataset = mlc.Dataset(jsonld=path)

    assert dataset.metadata.issues.errors == set()
    assert dataset.metadata.issues.warnings == set()
    records = {_text(row["items/id"]): row for row in dataset.records(record_set="items")}
    assert set(records) == {"mine", "licensed"}
    mine = records["mine"]
    assert _text(mine["items/license"]) == "https://spdx.org/licenses/CC-BY-4.0.html"
    assert _text(mine["items/creator"]) == "Alice Liu"
    assert "Consentry work" in _text(mine["items/citeAs"])
    document = json.loads(path.read_text())
    assert document["conformsTo"] == "http://mlcommons.org/croissant/1.1"
    assert document["rai:dataCollection"] and document["rai:dataUseCases"]
    assert f"/api/v1/screenings/{screened.id}" in document["isBasedOn"][0]


def test_a_croissant_dataset_where_nothing_passed_is_valid_and_says_so(
    works, run_pending, tmp_path
):
    """Denied items only: the command still writes a dataset mlcroissant accepts, with no
    record set, rather than a record set of no records (which Croissant forbids)."""
    mlc = pytest.importorskip("mlcroissant")
    initech = OrganizationFactory.create(name="Initech")
    screening = screen(api_client(initech), [item("theirs", 2)])
    run_pending()
    screening.refresh_from_db()
    assert screening.counts == {"denied": 1}
    path = tmp_path / "empty.json"

    call_command("export_compliance", "croissant", organization="Initech", out=str(path))
    dataset = mlc.Dataset(jsonld=path)

    assert dataset.metadata.issues.errors == set()
    assert dataset.metadata.issues.warnings == set()
    assert dataset.metadata.record_sets == []
    document = json.loads(path.read_text())
    assert "No item passed" in document["description"]
    assert f"/api/v1/screenings/{screening.id}" in document["isBasedOn"][0]


def test_the_command_writes_each_kind(screened, acme, tmp_path, capsys):
    for kind, fmt in [
        ("screening-report", "csv"),
        ("screening-report", "html"),
        ("ledger", None),
        ("eu-ai-act", None),
        ("china-art7", "jsonl"),
        ("croissant", None),
    ]:
        out = tmp_path / f"{kind}.{fmt}"
        options = {"organization": acme.name, "out": str(out)}
        if fmt:
            options["format"] = fmt
        call_command("export_compliance", kind, **options)
        assert out.stat().st_size > 0, kind


def test_the_command_refuses_another_organizations_screening(screened, globex, tmp_path):
    with pytest.raises(CommandError, match="no such screening"):
        call_command(
            "export_compliance",
            "eu-ai-act",
            organization=globex.name,
            screening=[str(screened.id)],
            out=str(tmp_path / "x.json"),
        )


def test_the_command_refuses_a_format_the_kind_lacks(acme, tmp_path):
    with pytest.raises(CommandError, match="comes as jsonl"):
        call_command("export_compliance", "ledger", organization=acme.name, format="csv", out="x")


# --- through the API --------------------------------------------------------------------------


def test_an_organization_downloads_its_report(screened, acme_client):
    response = acme_client.get("/api/v1/exports/screening-report", {"format": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode()
    assert str(screened.id) in body


def test_another_organizations_screening_answers_404(screened, globex):
    client = api_client(globex)
    for kind in ("screening-report", "eu-ai-act", "china-art7", "croissant"):
        response = client.get(f"/api/v1/exports/{kind}", {"screening": str(screened.id)})
        assert response.status_code == 404, kind
    own = client.get("/api/v1/exports/screening-report")
    report = json.loads(b"".join(own.streaming_content))  # type: ignore[attr-defined]
    assert report["screenings"] == []


def test_an_unknown_format_answers_400(screened, acme_client):
    response = acme_client.get("/api/v1/exports/croissant", {"format": "csv"})
    assert response.status_code == 400


def test_exports_need_an_api_key(client, db):
    assert client.get("/api/v1/exports/ledger").status_code in (401, 403)


def test_the_ledger_export_verifies_offline(screened, acme_client, tmp_path, capsys):
    response = acme_client.get("/api/v1/exports/ledger")
    path = tmp_path / "ledger.jsonl"
    path.write_bytes(b"".join(response.streaming_content))
    key = tmp_path / "key.pem"
    key.write_text(public_pem(receipt_signing_key().public_key()))

    call_command("verify_ledger", export=str(path), key_file=str(key))

    head = ConsentEvent.objects.order_by("-sequence").first()
    assert head is not None
    assert f"{head.sequence} events, head hash {head.hash}" in capsys.readouterr().out
