"""Item rows store their reasons as data; rows from before (no data) count the same."""

import json

from registry.exports.kinds import prepare_export
from registry.models import ScreeningItem
from registry.selectors.compliance import ExportScope


def report_reasons(organization):
    prepared = prepare_export("screening-report", "json", ExportScope(organization=organization))
    (summary,) = json.loads("".join(prepared.chunks()))["screenings"]
    return summary["reasons"]


def test_each_item_row_holds_its_reasons_as_codes_with_arguments(screened, works):
    rows = dict(ScreeningItem.objects.filter(screening=screened).values_list("item_id", "reasons"))

    assert rows["theirs"] == [{"code": "not_allowed", "work_id": works["refused"].pk}]
    assert rows["mine"] == [{"code": "allowed", "work_id": works["allowed"].pk}]
    # Unregistered and invalid items keep no row: their reasons are counted with their chunk.
    assert "stranger" not in rows and "broken" not in rows
    reasons = report_reasons(screened.organization)
    assert reasons["unregistered: no registered work matches"] == 1
    assert reasons["invalid: malformed fingerprint"] == 1


def test_rows_written_before_reasons_were_data_count_the_same(screened, acme):
    from_data = report_reasons(acme)
    ScreeningItem.objects.filter(screening=screened).update(reasons=None)

    assert report_reasons(acme) == from_data
    assert from_data["denied: not_allowed"] == 1
