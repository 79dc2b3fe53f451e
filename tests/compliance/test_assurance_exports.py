"""Every export carries the assurance level of each permission an allowed item used."""

import csv
import io

from tests.compliance.test_exports import export_text


def test_the_china_csv_names_each_permissions_assurance(screened, acme, works):
    rows = list(csv.DictReader(io.StringIO(export_text("china-art7", acme, "csv"))))

    by_work = {row["work_id"]: row for row in rows}
    assert by_work[str(works["allowed"].pk)]["assurance"] == "operator_verified"


def test_the_croissant_records_carry_the_assurance(screened, acme):
    document = export_text("croissant", acme)

    assert '"items/assurance"' in document
    assert '"items/assurance": "operator_verified"' in document
