"""The admin in a real browser (Debian's chromium through Playwright) against a live server:
what an artist does, in English and in Chinese."""

import re

import pytest
from django.urls import reverse

from registry.demo_art import artwork_bytes
from registry.models import ConsentEventKind, Permission, Purpose, Terms, Work
from tests.conftest import _SEED_BASE
from tests.e2e.conftest import worker  # noqa: F401 - a real worker registers the uploads

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _file(name: str, data: bytes, mime: str) -> dict[str, object]:
    return {"name": name, "mimeType": mime, "buffer": data}


def test_an_artist_uploads_several_images_and_sees_each_files_result(
    alice,
    open_browser,
    worker,  # noqa: F811
):
    browser = open_browser()
    browser.log_in("alice")
    page = browser.page
    browser.go(reverse("admin:registry_work_changelist"))
    page.click("#upload-images")

    broken = artwork_bytes(_SEED_BASE + 22)[:3000]  # a JPEG cut off mid-way
    page.set_input_files(
        "#id_images",
        [
            _file("morning-tea.jpg", artwork_bytes(_SEED_BASE + 20), "image/jpeg"),
            _file("broken.jpg", broken, "image/jpeg"),
            _file("night_market.png", artwork_bytes(_SEED_BASE + 21, fmt="PNG"), "image/png"),
            _file("notes.pdf", b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", "application/pdf"),
        ],
    )
    page.click("#upload-submit")

    # The worker registers the files; the page refreshes until none is processing.
    results = page.locator("#upload-results tbody tr")
    results.first.wait_for()
    page.locator("#upload-results tr.consentry-processing").first.wait_for(
        state="detached", timeout=60_000
    )
    assert results.count() == 4
    ok = page.locator("#upload-results tr.consentry-ok")
    assert sorted(ok.evaluate_all("rows => rows.map(row => row.dataset.file)")) == [
        "morning-tea.jpg",
        "night_market.png",
    ]
    assert "Registered as “morning tea”" in ok.first.inner_text()
    broken_row = page.locator('#upload-results tr[data-file="broken.jpg"]').inner_text()
    assert "could not be read as an image" in broken_row
    pdf_row = page.locator('#upload-results tr[data-file="notes.pdf"]').inner_text()
    assert "not an image in an accepted format" in pdf_row
    messages = page.locator(".messagelist").inner_text()
    assert "2 of 4 files were registered" in messages
    assert "broken.jpg" in messages and "notes.pdf" in messages

    # The batch's good files are works now, each with its thumbnail in the list.
    assert set(Work.objects.filter(artist=alice).values_list("title", flat=True)) == {
        "morning tea",
        "night market",
    }
    browser.go(reverse("admin:registry_work_changelist"))
    thumbnails = page.locator("#result_list img.consentry-thumb")
    assert thumbnails.count() == 2
    # The thumbnails load lazily, possibly after the page's load event: wait until each has
    # finished, loaded or broken, before reading its size.
    page.wait_for_function(
        "() => [...document.querySelectorAll('#result_list img.consentry-thumb')]"
        ".every(image => image.complete)",
        timeout=15_000,
    )
    widths = thumbnails.evaluate_all("images => images.map(image => image.naturalWidth)")
    assert all(width > 0 for width in widths)


def test_an_artist_refuses_a_purpose_in_bulk_and_sees_it_in_the_list_and_history(
    alice, register_work, open_browser
):
    spring = register_work(alice, seed=30, title="Spring", allow=[Purpose.AI_TRAINING])
    register_work(alice, seed=31, title="Summer", allow=[Purpose.AI_TRAINING])
    browser = open_browser()
    browser.log_in("alice")
    page = browser.page
    browser.go(reverse("admin:registry_work_changelist"))
    column = page.locator("td.field-terms_ai_training")
    assert column.all_inner_texts() == ["Allowed", "Allowed"]

    page.check("#action-toggle")
    page.select_option("select[name=action]", "refuse_purpose")
    page.select_option("select[name=purpose]", Purpose.AI_TRAINING)
    page.click("button[name=index]")

    assert "AI training: Not allowed for 2 works" in page.locator(".messagelist").inner_text()
    assert page.locator("td.field-terms_ai_training").all_inner_texts() == [
        "Not allowed",
        "Not allowed",
    ]
    assert set(
        Terms.objects.filter(work__artist=alice, purpose=Purpose.AI_TRAINING).values_list(
            "permission", flat=True
        )
    ) == {Permission.NOT_ALLOWED}

    browser.go(reverse("admin:registry_work_change", args=[spring.pk]))
    page.click("a.historylink")
    history = page.locator("#consent-history")
    changed = history.locator(f'tr[data-kind="{ConsentEventKind.TERMS_CHANGED}"]').first
    assert "AI training: Not allowed (was: Allowed)" in changed.inner_text()
    assert history.locator(f'tr[data-kind="{ConsentEventKind.WORK_REGISTERED}"]').count() == 1


def test_another_artist_cannot_reach_the_works_by_list_search_or_url(
    alice, bob, register_work, open_browser
):
    secret = register_work(alice, seed=40, title="Alice private sketch")
    register_work(bob, seed=41, title="Bob harbour")
    browser = open_browser()
    browser.log_in("bob")
    page = browser.page

    browser.go(reverse("admin:registry_work_changelist"))
    assert page.locator("#result_list tbody tr").count() == 1
    assert "Alice private sketch" not in page.content()

    page.fill("#searchbar", "private sketch")
    page.press("#searchbar", "Enter")
    page.wait_for_url(re.compile(r"q=private"))
    assert page.locator("#result_list").count() == 0
    assert "0 results" in page.locator("#changelist-search").inner_text()

    for url in [
        reverse("admin:registry_work_change", args=[secret.pk]),
        reverse("admin:registry_work_history", args=[secret.pk]),
        reverse("admin:registry_work_screenings", args=[secret.pk]),
    ]:
        response = browser.go(url)
        assert response.status in {200, 404}
        assert "Alice private sketch" not in page.content()
        if response.status == 200:  # the admin redirected to its index, saying nothing
            assert page.url.endswith("/admin/")
    response = browser.go(reverse("admin:registry_work_thumbnail", args=[secret.pk]))
    assert response.status == 404


def test_the_admin_speaks_chinese_when_the_browser_asks_and_switches_on_request(
    alice, register_work, open_browser
):
    register_work(alice, seed=50, title="山水")
    browser = open_browser(locale="zh-CN")
    browser.go("/admin/login/")
    page = browser.page
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert "用户名" in page.locator("#login-form").inner_text()
    browser.log_in("alice")

    browser.go(reverse("admin:registry_work_changelist"))
    assert page.locator("#upload-images").text_content() == "上传图片"
    headers = page.locator("#result_list thead").inner_text()
    assert "AI 训练" in headers and "生成式 AI 训练" in headers
    assert page.locator("td.field-terms_ai_training").inner_text() == "不允许"
    assert "拒绝所选用途" in page.locator("select[name=action]").inner_text()

    page.select_option("#consentry-language-select", "en")
    page.click("#language-switcher button[type=submit]")
    page.wait_for_load_state()
    assert page.url.endswith(reverse("admin:registry_work_changelist"))
    assert page.locator("#upload-images").text_content() == "Upload images"
    assert page.locator("td.field-terms_ai_training").inner_text() == "Not allowed"


def test_the_admin_and_the_api_docs_run_under_the_content_security_policy(
    alice, register_work, open_browser
):
    """The content security policy forbids inline and foreign scripts; nothing the admin or
    Swagger UI needs is refused, and no request leaves the site."""
    register_work(alice, seed=40, title="Policy")
    browser = open_browser()
    page = browser.page
    violations: list[str] = []
    foreign: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.on(
        "request",
        lambda request: (
            foreign.append(request.url)
            if not request.url.startswith(browser.base_url) and not request.url.startswith("data:")
            else None
        ),
    )
    browser.log_in("alice")
    browser.go(reverse("admin:registry_work_changelist"))
    page.click("#upload-images")
    page.wait_for_selector("#id_images")
    browser.go("/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "Consentry API" in page.locator(".swagger-ui .info .title").inner_text()
    assert page.locator(".opblock").count() > 10
    assert violations == []
    assert foreign == []
