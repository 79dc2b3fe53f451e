"""The admin's first pages at 1280x800 in English and Chinese, on `make run`'s demo data: every
box stays inside the viewport and its container, no text is cut, and each page is saved as a
screenshot (under $CONSENTRY_LAYOUT_SHOTS, else the test's temporary folder) to look at."""

import os
from pathlib import Path

import pytest
from django.urls import reverse

from registry.services.demo import DEMO_PASSWORD, demo_load

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LANGUAGES = {"en": "en-US", "zh-hans": "zh-CN"}
VIEWPORT = {"width": 1280, "height": 800}

AUDIT = (Path(__file__).parent / "layout_audit.js").read_text(encoding="utf-8")


def _shots() -> Path | None:
    folder = os.environ.get("CONSENTRY_LAYOUT_SHOTS")
    return Path(folder) if folder else None


@pytest.fixture
def demo(db):
    demo_load()


@pytest.fixture
def browse(demo, chromium, live_server, tmp_path):
    contexts = []

    def open_page(language: str, path: str, *, log_in: str | None = "alice"):
        context = chromium.new_context(
            locale=LANGUAGES[language], viewport=VIEWPORT, device_scale_factor=1
        )
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        if log_in:
            page.goto(f"{live_server.url}/admin/login/?next=/admin/")
            page.fill("#id_username", log_in)
            page.fill("#id_password", DEMO_PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_url(f"{live_server.url}/admin/")
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        return page

    yield open_page
    for context in contexts:
        context.close()


def _check(page, name: str, tmp_path: Path) -> None:
    folder = _shots() or tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.evaluate(
        "document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')"
    )
    page.wait_for_function("[...document.images].every(image => image.complete)")
    page.screenshot(path=str(folder / f"{name}.png"))
    problems = page.evaluate(AUDIT)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_login_page_fits(browse, language, tmp_path):
    page = browse(language, "/admin/login/", log_in=None)
    assert page.locator("html").get_attribute("lang") == language
    _check(page, f"login-{language}", tmp_path)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_works_list_fits_with_none_or_all_works_ticked(browse, language, tmp_path):
    page = browse(language, reverse("admin:registry_work_changelist"))
    _check(page, f"works-list-{language}", tmp_path)
    page.check("#action-toggle")
    problems = page.evaluate(AUDIT)
    assert problems == [], "\n".join(problems)


def test_the_works_list_shows_the_licence_and_names_licensed_terms_once(browse):
    page = browse("en", reverse("admin:registry_work_changelist"))

    # alice's demo default: AI training allowed under CC-BY-4.0, visible without hovering.
    cell = page.locator("td.field-terms_ai_training").first
    assert cell.inner_text().split() == ["Allowed", "CC-BY-4.0"]
    actions = page.locator("select[name=action]").inner_text()
    filters = page.locator("#changelist-filter").inner_text()
    assert "Licensed organizations only, for the chosen purpose" in actions
    assert "Licensed organizations only" in filters
    assert "Licence only" not in actions + filters


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_upload_form_fits(browse, language, tmp_path):
    page = browse(language, reverse("admin:registry_work_upload"))
    _check(page, f"upload-form-{language}", tmp_path)


def test_the_audit_finds_what_it_looks_for(chromium):
    page = chromium.new_page(viewport=VIEWPORT)
    page.set_content(
        '<div style="width:300px"><div id="wide" style="width:400px">x</div></div>'
        '<input id="short" size="4" placeholder="a placeholder far too long">'
        '<p style="width:40px"><span class="action-counter">0 of 6 selected</span></p>'
        '<div id="past" style="margin-left:1200px;width:200px">y</div>'
    )
    problems = "\n".join(page.evaluate(AUDIT))
    page.close()
    assert "div#wide runs past its container" in problems
    assert "input#short cuts its placeholder" in problems
    assert "span.action-counter wraps onto" in problems
    assert "div#past runs past the viewport" in problems
