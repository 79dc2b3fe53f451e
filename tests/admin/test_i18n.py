"""Simplified Chinese and English: the browser's language by default, a switch in the admin,
and a compiled catalog that translates every string of ours."""

import ast
import gettext
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.functional import Promise
from rest_framework_api_key.models import AbstractAPIKey

from registry.models import OrganizationAPIKey
from tests.admin.conftest import client_for

LOCALE = Path(__file__).parents[2] / "registry" / "locale" / "zh_Hans" / "LC_MESSAGES"
# Names that read the same in Chinese: algorithm names and the product's name.
SAME_IN_CHINESE = {"Consentry", "SHA-256", "pHash", "dHash", "PDQ"}
# Fields a model inherits from a library, with the library's own strings; the admin labels them.
LIBRARY_FIELDS: dict[type[Model], set[str]] = {
    OrganizationAPIKey: {field.name for field in AbstractAPIKey._meta.fields}
}


def po_entries(path: Path) -> list[dict[str, Any]]:
    """The entries of a .po file: msgid, msgid_plural, msgstr (a list) and flags."""
    entries: list[dict[str, Any]] = []
    entry: dict[str, Any] = {}
    key = ""
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if "msgid" in entry:
                entries.append(entry)
            entry, key = {}, ""
        elif line.startswith("#,"):
            entry["flags"] = {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            text = ast.literal_eval(line)
            if key.startswith("msgstr"):
                strings = entry["msgstr"]
                strings[-1] += text
            else:
                entry[key] = str(entry[key]) + text
        else:
            key, _space, value = line.partition(" ")
            text = ast.literal_eval(value)
            if key.startswith("msgstr"):
                entry.setdefault("msgstr", []).append(text)
                key = "msgstr"
            else:
                entry[key] = text
    return [entry for entry in entries if entry["msgid"]]


def test_every_message_in_the_catalog_is_translated_and_compiled():
    entries = po_entries(LOCALE / "django.po")
    assert len(entries) > 300
    untranslated = [e["msgid"] for e in entries if not all(e["msgstr"])]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e.get("flags", set())]
    assert untranslated == [] and fuzzy == []

    with (LOCALE / "django.mo").open("rb") as compiled:
        catalog = gettext.GNUTranslations(compiled)
    stale = [
        entry["msgid"]
        for entry in entries
        if "msgid_plural" not in entry
        and catalog.gettext(str(entry["msgid"])) != entry["msgstr"][0]
    ]
    assert stale == [], "django.mo is older than django.po: run manage.py compilemessages"


def _lazy_strings_of_the_models() -> list[Promise]:
    strings: list[Any] = []
    for model in apps.get_app_config("registry").get_models():
        meta = model._meta
        strings += [meta.verbose_name, meta.verbose_name_plural]
        strings += [name for _codename, name in meta.permissions]
        for field in meta.get_fields():
            if field.name in LIBRARY_FIELDS.get(model, set()):
                continue
            for text in (getattr(field, "verbose_name", None), getattr(field, "help_text", None)):
                strings.append(text)
            strings += [label for _value, label in getattr(field, "flatchoices", None) or []]
    return [text for text in strings if isinstance(text, Promise)]


def _admin_strings() -> list[Promise]:
    strings: list[Any] = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label != "registry":
            continue
        for name in dir(type(model_admin)):
            description = getattr(getattr(type(model_admin), name, None), "short_description", None)
            if isinstance(description, Promise):
                strings.append(description)
    return strings


@pytest.mark.parametrize("source", [_lazy_strings_of_the_models, _admin_strings])
def test_every_string_marked_for_translation_has_chinese(source):
    with translation.override("en"):
        english = {str(text) for text in source()} - SAME_IN_CHINESE
    with translation.override("zh-hans"):
        missing = sorted(text for text in english if translation.gettext(text) == text)
    assert missing == []


@pytest.mark.django_db
@pytest.mark.parametrize("accept", ["zh-hans", "zh-CN,zh;q=0.9,en;q=0.5", "zh"])
def test_the_admin_follows_the_browsers_language(alice, register_work, accept):
    register_work(alice, seed=130)
    client = client_for(alice.user, HTTP_ACCEPT_LANGUAGE=accept)
    page = client.get(reverse("admin:registry_work_changelist"))
    assert page["Content-Language"] == "zh-hans"
    text = page.content.decode()
    for chinese in ["上传图片", "AI 训练", "拒绝所选用途"]:
        assert chinese in text, chinese


@pytest.mark.django_db
def test_english_is_the_default_and_the_switch_changes_the_language(alice):
    client = client_for(alice.user, HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.8")
    works = reverse("admin:registry_work_changelist")
    assert "Upload images" in client.get(works).content.decode()
    switched = client.post(reverse("set_language"), {"language": "zh-hans", "next": works})
    assert switched.status_code == 302 and switched["Location"] == works
    assert "上传图片" in client.get(works).content.decode()


@pytest.mark.django_db
def test_the_login_page_offers_the_switch_too():
    page = Client(HTTP_ACCEPT_LANGUAGE="zh-CN").get(reverse("admin:login"))
    assert 'id="language-switcher"' in page.content.decode()
    assert "用户名" in page.content.decode()
