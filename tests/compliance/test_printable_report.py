"""The printable screening report as a regulator reads it: a summary, a table per screening,
words instead of codes in English and Chinese, and each receipt attached as a verifiable file."""

import base64
import hashlib
import json
import re

import pytest
from django.utils import translation

from registry.models import Purpose
from registry.receipts import canonical_json, verify
from registry.signing import receipt_signing_key
from tests.api.conftest import item
from tests.compliance.conftest import SENT, screen
from tests.compliance.test_exports import export_text

ATTACHMENT = re.compile(r'href="data:application/json;base64,([^"]+)" download="([^"]+)"')


def test_the_report_says_decisions_and_reasons_in_words(screened, acme):
    page = export_text("screening-report", acme, "html")

    summary = page.split('<div class="screenings">')[0]
    assert f'data-screening="{screened.id}"' in summary
    assert "AI training" in summary and "Consent required" in summary
    for words in (
        "not allowed by the artist",
        "licensed to this organization by a grant",
        "no registered work matches",
        "malformed fingerprint",
    ):
        assert words in page
    for code in ("allowed: allowed", "denied: not_allowed", "ai_training", "consent_required"):
        assert code not in page.split('<section class="appendix">')[0]


def test_the_report_speaks_chinese_when_the_reader_does(screened, acme):
    with translation.override("zh-hans"):
        page = export_text("screening-report", acme, "html")

    assert '<html lang="zh-hans">' in page
    assert "筛查报告" in page and "AI 训练" in page
    assert "允许" in page and "拒绝" in page and "未登记" in page and "无效" in page
    assert "艺术家不允许" in page
    assert "Screening report" not in page and "not allowed by the artist" not in page


def test_each_receipt_is_attached_as_the_file_verify_receipt_checks(screened, acme):
    page = export_text("screening-report", acme, "html")

    ((encoded, filename),) = ATTACHMENT.findall(page)
    assert filename == f"receipt-{screened.id}.json"
    receipt = json.loads(base64.b64decode(encoded))
    verify(receipt["document"], receipt["signature"], receipt_signing_key().public_key())
    assert receipt["document"]["screening_id"] == str(screened.id)
    assert hashlib.sha256(canonical_json(receipt["document"])).hexdigest() in page


def test_the_matching_configuration_is_printed_once_for_all_screenings(
    screened, acme, acme_client, run_pending
):
    screen(acme_client, [item("again", 1)], purpose=Purpose.DATA_MINING)
    run_pending()

    page = export_text("screening-report", acme, "html")

    assert page.count("<code>phash_radius</code>") == 1
    assert len(ATTACHMENT.findall(page)) == 2


@pytest.mark.browser
def test_nine_screenings_print_on_a_few_a4_pages(
    works,
    acme,
    acme_client,
    run_pending,
    chromium,
    tmp_path,
):
    for number in range(9):
        items = [item(f"{item_id}-{number}", seed) for item_id, seed in SENT]
        # A present but malformed fingerprint: decided invalid, never passed.
        screen(acme_client, [*items, item(f"broken-{number}", 41, phash="zz")])
    run_pending()
    html = tmp_path / "report.html"
    html.write_text(export_text("screening-report", acme, "html"), encoding="utf-8")

    page = chromium.new_page()
    page.goto(html.as_uri())
    pdf = page.pdf(format="A4", print_background=True)
    page.close()

    # Chromium writes one uncompressed page object per page (pdfinfo agrees).
    pages = len(re.findall(rb"/Type\s*/Page\b", pdf))
    # Before: 19 pages, most of them each receipt's whole matching configuration.
    assert pages <= 5, pages
