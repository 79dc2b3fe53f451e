"""The artist's pages: bulk upload, bulk terms, a work's terms, history and screenings, the
profile with defaults and links, and grants. Every change must reach the consent ledger."""

import csv
import io
import re
from pathlib import Path

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from registry.demo_art import artwork_bytes
from registry.models import (
    ConsentEvent,
    ConsentEventKind,
    DefaultTerms,
    Grant,
    Permission,
    Purpose,
    Terms,
    Work,
)
from registry.selectors.terms import effective_terms, with_effective_permission
from registry.services.terms import default_terms_set, terms_set
from tests.admin.conftest import client_for
from tests.conftest import _SEED_BASE
from tests.factories import unverified

pytestmark = pytest.mark.django_db

WORKS = reverse("admin:registry_work_changelist")


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _upload(name: str, data: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def _upload_and_register(client, form, run_uploads):
    """Post the upload form, let the worker register the files, and open the batch's page."""
    posted = client.post(reverse("admin:registry_work_upload"), form)
    assert posted.status_code == 302 and "?batch=" in posted.url
    run_uploads()
    return client.get(posted.url)


def test_one_upload_registers_every_good_file_and_names_every_bad_one(
    alice, alice_client, monkeypatch, run_uploads
):
    monkeypatch.setattr("registry.services.pending_uploads.MAX_IMAGE_BYTES", 400_000)
    files = [
        _upload("first light.jpg", artwork_bytes(_SEED_BASE + 80)),
        _upload("cut.jpg", artwork_bytes(_SEED_BASE + 81)[:2000]),
        _upload("letter.pdf", b"%PDF-1.4\n%\xe2\xe3\n", "application/pdf"),
        _upload("empty.png", b"", "image/png"),
        _upload("poster.png", b"\x89PNG" + b"\0" * 500_000, "image/png"),
        _upload("second_light.webp", artwork_bytes(_SEED_BASE + 82, fmt="WEBP"), "image/webp"),
    ]
    response = _upload_and_register(
        alice_client,
        {"images": files, "allow": [Purpose.DATA_MINING], "license": "CC-BY-4.0"},
        run_uploads,
    )

    assert response.status_code == 200
    results = {result.file: result for result in response.context["results"]}
    assert [name for name, result in results.items() if result.registered] == [
        "first light.jpg",
        "second_light.webp",
    ]
    assert "could not be read as an image" in results["cut.jpg"].problem
    assert "truncated" in results["cut.jpg"].detail
    assert "not an image in an accepted format" in results["letter.pdf"].problem
    assert "is empty" in results["empty.png"].problem
    assert "is too large" in results["poster.png"].problem
    messages = _messages(response)
    assert "2 of 6 files were registered as works." in messages
    for name in ["cut.jpg", "letter.pdf", "empty.png", "poster.png"]:
        assert any(name in message for message in messages), name

    works = Work.objects.filter(artist=alice).order_by("title")
    assert [work.title for work in works] == ["first light", "second light"]
    mining = effective_terms([work.pk for work in works], Purpose.DATA_MINING)
    assert {terms.permission for terms in mining.values()} == {Permission.ALLOWED}
    assert ConsentEvent.objects.filter(kind=ConsentEventKind.WORK_REGISTERED).count() == 2


def test_uploading_the_same_image_again_is_refused_by_name(
    alice, alice_client, register_work, run_uploads
):
    register_work(alice, seed=83, title="Kept")
    again = _upload("again.jpg", artwork_bytes(_SEED_BASE + 83))
    response = _upload_and_register(alice_client, {"images": [again]}, run_uploads)
    (result,) = response.context["results"]
    assert not result.registered
    assert result.problem.startswith("“again.jpg” was not registered")


def test_an_upload_without_files_asks_for_them(alice_client):
    response = alice_client.post(reverse("admin:registry_work_upload"), {})
    assert response.status_code == 200
    assert response.context["form"].errors["images"] == ["Choose one or more image files."]


def test_an_operator_uploads_on_an_artists_behalf(alice, operator_client, run_uploads):
    image = _upload("for alice.jpg", artwork_bytes(_SEED_BASE + 84))
    response = _upload_and_register(
        operator_client, {"images": [image], "artist": alice.pk}, run_uploads
    )
    assert [result.registered for result in response.context["results"]] == [True]
    assert Work.objects.get(title="for alice").artist == alice


def _unticked(response) -> dict[str, str]:
    """The upload form's "a purpose left unticked will be" list, by purpose."""
    html = response.content.decode()
    section = html.split('id="unticked-purposes"', 1)[1].split("</ul>", 1)[0]
    return dict(re.findall(r'<li data-purpose="(\w+)" data-permission="\w+">([^<]+)</li>', section))


def test_the_upload_form_says_what_an_unticked_purpose_will_be_for_this_artist(
    alice, alice_client, run_uploads
):
    default_terms_set(
        artist=alice, purpose=Purpose.AI_TRAINING, permission=Permission.ALLOWED, license="CC0-1.0"
    )
    page = alice_client.get(reverse("admin:registry_work_upload"))

    said = _unticked(page)
    assert said[Purpose.AI_TRAINING] == "AI training: Allowed, your default (CC0-1.0)"
    assert said[Purpose.DATA_MINING] == (
        "Data mining: Not allowed (consent first: you have no default)"
    )
    assert "not allowed for any purpose unless you tick" not in page.content.decode()

    # What was said is what happens: nothing ticked, and the work is allowed by the default.
    image = _upload("told.jpg", artwork_bytes(_SEED_BASE + 87))
    _upload_and_register(alice_client, {"images": [image]}, run_uploads)
    work = Work.objects.get(title="told")
    assert effective_terms([work.pk], Purpose.AI_TRAINING)[work.pk].permission == "allowed"
    assert effective_terms([work.pk], Purpose.DATA_MINING)[work.pk].permission == "not_allowed"


def test_the_upload_form_says_it_in_chinese_and_for_an_artist_without_defaults(bob):
    client = client_for(bob.user, HTTP_ACCEPT_LANGUAGE="zh-CN")
    said = _unticked(client.get(reverse("admin:registry_work_upload")))

    assert said[Purpose.AI_TRAINING] == "AI 训练：不允许（同意优先：你没有设置默认值）"  # noqa: RUF001
    assert len(said) == 4


def test_an_operator_is_told_the_chosen_artists_defaults_apply(operator_client):
    page = operator_client.get(reverse("admin:registry_work_upload")).content.decode()
    assert 'id="unticked-purposes"' not in page
    assert "follows the artist&#x27;s defaults" in page


def test_bulk_terms_change_only_the_permission_and_reach_the_ledger(
    alice, alice_client, register_work
):
    spring = register_work(alice, seed=85, title="Spring")
    summer = register_work(alice, seed=86, title="Summer")
    terms_set(
        artist=alice,
        works=[spring],
        purpose=Purpose.AI_TRAINING,
        permission=Permission.ALLOWED,
        license="CC-BY-4.0",
        attribution="Painted by Alice",
    )
    before = ConsentEvent.objects.count()

    response = alice_client.post(
        WORKS,
        {
            "action": "refuse_purpose",
            "purpose": Purpose.AI_TRAINING,
            "index": 0,
            "_selected_action": [spring.pk, summer.pk],
        },
        follow=True,
    )

    spring_terms = Terms.objects.get(work=spring, purpose=Purpose.AI_TRAINING)
    assert spring_terms.permission == Permission.NOT_ALLOWED
    assert (spring_terms.license, spring_terms.attribution) == ("CC-BY-4.0", "Painted by Alice")
    summer_terms = Terms.objects.get(work=summer, purpose=Purpose.AI_TRAINING)
    assert summer_terms.permission == Permission.NOT_ALLOWED
    events = ConsentEvent.objects.filter(sequence__gt=before).order_by("work_id")
    assert [(event.work_id, event.payload["permission"]) for event in events] == [
        (spring.pk, Permission.NOT_ALLOWED),
        (summer.pk, Permission.NOT_ALLOWED),
    ]
    assert events[0].payload["previous"]["permission"] == Permission.ALLOWED
    assert any("AI training: Not allowed for 2 works" in m for m in _messages(response))


def test_bulk_terms_for_all_purposes_with_a_typed_licence(alice, alice_client, register_work):
    work = register_work(alice, seed=87, title="Autumn")
    alice_client.post(
        WORKS,
        {
            "action": "allow_purpose",
            "purpose": "all",
            "license": "CC-BY-NC-4.0",
            "index": 0,
            "_selected_action": [work.pk],
        },
    )
    terms = Terms.objects.filter(work=work)
    assert {(t.purpose, t.permission, t.license) for t in terms} == {
        (purpose, Permission.ALLOWED, "CC-BY-NC-4.0") for purpose in Purpose.values
    }
    assert ConsentEvent.objects.filter(work=work, kind=ConsentEventKind.TERMS_CHANGED).count() == 4


def test_bulk_terms_without_a_purpose_or_with_a_bad_licence_change_nothing(
    alice, alice_client, register_work
):
    work = register_work(alice, seed=88, title="Winter")
    no_purpose = alice_client.post(
        WORKS, {"action": "allow_purpose", "index": 0, "_selected_action": [work.pk]}
    )
    assert "Choose a purpose" in _messages(no_purpose)[0]
    bad = alice_client.post(
        WORKS,
        {
            "action": "license_purpose",
            "purpose": Purpose.AI_INFERENCE,
            "license": "not a licence!",
            "index": 0,
            "_selected_action": [work.pk],
        },
    )
    assert "neither an SPDX licence id" in " ".join(_messages(bad))
    assert not Terms.objects.filter(work=work).exists()


def test_the_list_shows_terms_at_a_glance_in_a_constant_number_of_queries(
    alice, alice_client, register_work
):
    default_terms_set(artist=alice, purpose=Purpose.DATA_MINING, permission=Permission.LICENSED)
    register_work(alice, seed=89, allow=[Purpose.AI_TRAINING])
    register_work(alice, seed=107)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert alice_client.get(WORKS).status_code == 200
        return len(captured)

    few = queries()
    for seed in range(90, 94):
        register_work(alice, seed=seed)
    assert queries() == few

    page = alice_client.get(WORKS)
    row = page.context["cl"].result_list[-1]
    assert row.terms_by_purpose[Purpose.AI_TRAINING].permission == Permission.ALLOWED
    assert row.terms_by_purpose[Purpose.DATA_MINING].source == "default"
    assert b"consentry-terms--licensed" in page.content


def test_the_terms_filter_agrees_with_the_gatekeepers_rule(alice, bob, register_work):
    default_terms_set(artist=alice, purpose=Purpose.AI_TRAINING, permission=Permission.ALLOWED)
    own = register_work(alice, seed=94, title="own terms")
    terms_set(
        artist=alice, works=[own], purpose=Purpose.AI_TRAINING, permission=Permission.LICENSED
    )
    register_work(alice, seed=95, title="default")
    register_work(bob, seed=96, title="consent first")
    works = Work.objects.all()
    truth = effective_terms([work.pk for work in works], Purpose.AI_TRAINING)
    for permission in Permission.values:
        filtered = with_effective_permission(
            works, purpose=Purpose.AI_TRAINING, permission=permission
        )
        expected = {pk for pk, terms in truth.items() if terms.permission == permission}
        assert set(filtered.values_list("pk", flat=True)) == expected, permission


def test_changing_a_works_terms_on_its_page_writes_only_what_changed(
    alice, alice_client, register_work
):
    work = register_work(alice, seed=97, title="Plum")
    url = reverse("admin:registry_work_change", args=[work.pk])
    form = alice_client.get(url).context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(
        {
            "title": "Plum blossom",
            "source_urls": "https://www.xiaohongshu.com/explore/1\n\nhttps://example.org/plum",
            "ai_generative_training_permission": Permission.LICENSED,
            "ai_generative_training_license": "grant-abc",
        }
    )
    response = alice_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors

    work.refresh_from_db()
    assert work.title == "Plum blossom"
    assert work.source_urls == ["https://www.xiaohongshu.com/explore/1", "https://example.org/plum"]
    assert list(
        Terms.objects.filter(work=work).values_list("purpose", "permission", "license")
    ) == [(Purpose.AI_GENERATIVE_TRAINING, Permission.LICENSED, "grant-abc")]


def test_a_bad_licence_on_a_works_page_is_a_form_error(alice, alice_client, register_work):
    work = register_work(alice, seed=98)
    url = reverse("admin:registry_work_change", args=[work.pk])
    form = alice_client.get(url).context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data.update({"ai_training_permission": Permission.ALLOWED, "ai_training_license": "no way"})
    response = alice_client.post(url, data)
    assert response.status_code == 200
    assert "ai_training_license" in response.context["adminform"].form.errors
    assert not Terms.objects.filter(work=work).exists()


def test_who_screened_my_work_and_the_count_on_its_row(
    alice, acme, alice_client, register_work, screen
):
    matched = register_work(alice, seed=99, title="Matched", allow=[Purpose.AI_TRAINING])
    register_work(alice, seed=100, title="Unmatched")
    screen(acme, [99])
    screen(acme, [99], purpose=Purpose.DATA_MINING)

    page = alice_client.get(WORKS)
    counts = {work.title: work.screening_count for work in page.context["cl"].result_list}
    assert counts == {"Matched": 2, "Unmatched": 0}
    assert alice_client.get(WORKS, {"screened": "yes"}).context["cl"].result_count == 1

    rows = alice_client.get(reverse("admin:registry_work_screenings", args=[matched.pk]))
    listed = {
        (row["organization__name"], row["screening__purpose"], row["decision"])
        for row in rows.context["rows"]
    }
    assert listed == {("Acme AI", "ai_training", "allowed"), ("Acme AI", "data_mining", "denied")}


def test_a_works_history_is_read_from_the_ledger(alice, alice_client, register_work, acme):
    from registry.services.grants import grant_create

    work = register_work(alice, seed=101, title="Lotus")
    other = register_work(alice, seed=102, title="Other")
    terms_set(
        artist=alice, works=[work], purpose=Purpose.AI_TRAINING, permission=Permission.ALLOWED
    )
    terms_set(
        artist=alice, works=[other], purpose=Purpose.AI_TRAINING, permission=Permission.ALLOWED
    )
    default_terms_set(artist=alice, purpose=Purpose.DATA_MINING, permission=Permission.ALLOWED)
    grant_create(artist=alice, organization=acme, purposes=[Purpose.AI_TRAINING], works=[other])

    page = alice_client.get(reverse("admin:registry_work_history", args=[work.pk]))
    kinds = [event.kind for event, _summary in page.context["entries"]]
    assert kinds == [
        ConsentEventKind.DEFAULTS_CHANGED,
        ConsentEventKind.TERMS_CHANGED,
        ConsentEventKind.WORK_REGISTERED,
    ]
    summaries = [summary for _event, summary in page.context["entries"]]
    assert summaries[1] == "AI training: Allowed (was: nothing set)."
    assert b"Other" not in page.content


def test_the_profile_sets_credit_line_defaults_and_links(alice, alice_client):
    url = reverse("admin:registry_artist_change", args=[alice.pk])
    form = alice_client.get(url).context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(
        {
            "credit_line": "Alice Liu (@aliceliu)",
            "ai_training_permission": Permission.ALLOWED,
            "ai_training_license": "CC-BY-4.0",
            "links-TOTAL_FORMS": "1",
            "links-INITIAL_FORMS": "0",
            "links-MIN_NUM_FORMS": "0",
            "links-MAX_NUM_FORMS": "1000",
            "links-0-label": "Xiaohongshu",
            "links-0-url": "@aliceliu",
        }
    )
    response = alice_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors

    alice.refresh_from_db()
    assert alice.credit_line == "Alice Liu (@aliceliu)"
    assert list(alice.links.values_list("label", "url")) == [("Xiaohongshu", "@aliceliu")]
    default = DefaultTerms.objects.get(artist=alice)
    assert (default.purpose, default.permission, default.license) == (
        Purpose.AI_TRAINING,
        Permission.ALLOWED,
        "CC-BY-4.0",
    )
    assert ConsentEvent.objects.filter(kind=ConsentEventKind.DEFAULTS_CHANGED).count() == 1
    unverified(alice)
    # Unverified, her name is a field of the form again (a verified name is read-only).
    forged = {**data, "display_name": alice.display_name, "verified": "on"}
    forged["assurance"] = "operator_verified"
    assert alice_client.post(url, forged).status_code == 302
    alice.refresh_from_db()
    assert not alice.verified and alice.assurance == "self_asserted"


def test_an_artist_grants_chosen_works_and_revokes_the_grant(
    alice, bob, acme, alice_client, register_work
):
    mine = register_work(alice, seed=103, title="Mine")
    bobs = register_work(bob, seed=104, title="Bob's")
    add = reverse("admin:registry_grant_add")
    base = {
        "organization": acme.pk,
        "purposes": [Purpose.AI_TRAINING, Purpose.DATA_MINING],
        "valid_from_0": "2026-01-01",
        "valid_from_1": "00:00:00",
    }

    refused = alice_client.post(add, {**base, "works": [bobs.pk]})
    assert refused.status_code == 200 and "works" in refused.context["adminform"].form.errors
    neither = alice_client.post(add, base)
    assert neither.status_code == 200 and not Grant.objects.exists()

    assert alice_client.post(add, {**base, "works": [mine.pk]}).status_code == 302
    grant = Grant.objects.get()
    assert (grant.artist, grant.organization, list(grant.works.all())) == (alice, acme, [mine])
    assert grant.purposes == [Purpose.AI_TRAINING, Purpose.DATA_MINING]
    assert ConsentEvent.objects.filter(kind=ConsentEventKind.GRANT_CREATED).count() == 1

    page = alice_client.get(reverse("admin:registry_grant_change", args=[grant.pk]))
    assert b"revoke-grant-button" in page.content
    alice_client.post(reverse("admin:registry_grant_revoke", args=[grant.pk]))
    grant.refresh_from_db()
    assert grant.revoked_at is not None
    assert ConsentEvent.objects.filter(kind=ConsentEventKind.GRANT_REVOKED).count() == 1


def test_removing_works_asks_first_then_goes_through_the_service(
    alice, alice_client, register_work
):
    work = register_work(alice, seed=105, title="Gone")
    selection = {"action": "remove_works", "index": 0, "_selected_action": [work.pk]}
    confirm = alice_client.post(WORKS, selection)
    assert confirm.status_code == 200 and b"Gone" in confirm.content
    work.refresh_from_db()
    assert work.removed_at is None

    alice_client.post(
        WORKS, {"action": "remove_works", "_selected_action": [work.pk], "confirm": "yes"}
    )
    work.refresh_from_db()
    assert work.removed_at is not None
    assert ConsentEvent.objects.filter(work=work, kind=ConsentEventKind.WORK_REMOVED).exists()
    removed_page = alice_client.get(reverse("admin:registry_work_change", args=[work.pk]))
    assert removed_page.context["has_change_permission"] is False


def test_the_csv_export_lists_terms_per_purpose(alice, alice_client, register_work):
    work = register_work(alice, seed=106, title="春日", allow=[Purpose.AI_TRAINING])
    response = alice_client.post(
        WORKS, {"action": "export_csv", "index": 0, "_selected_action": [work.pk]}
    )
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeffid,title,artist")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[1][:3] == [str(work.pk), "春日", "Alice Liu"]
    assert rows[1][6] == Permission.ALLOWED


def test_the_csv_export_defuses_formulas_in_titles_and_names(alice, alice_client, register_work):
    """Formula injection: a title an attacker wrote must not run in the operator's spreadsheet."""
    alice.display_name = "@SUM(1+1)"
    alice.save()
    work = register_work(alice, seed=107, title='=HYPERLINK("http://evil.example","x")')
    response = alice_client.post(
        WORKS, {"action": "export_csv", "index": 0, "_selected_action": [work.pk]}
    )
    text = b"".join(response.streaming_content).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[1][1] == '\'=HYPERLINK("http://evil.example","x")'
    assert rows[1][2] == "'@SUM(1+1)"
    assert not any(cell[:1] in {"=", "+", "-", "@"} for row in rows for cell in row)


def test_every_csv_the_project_writes_goes_through_the_cell_helper():
    """One place escapes CSV cells: no module but registry/exports/cells.py makes a csv writer."""
    root = Path(__file__).resolve().parents[2] / "registry"
    writers = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if re.search(r"csv\.(writer|DictWriter)\(", path.read_text(encoding="utf-8"))
    ]
    assert writers == ["exports/cells.py"]


def _held_work(artist, seed: int) -> Work:
    """A work registered while its check could not finish (as services.works does then)."""
    from registry.services import works

    with pytest.MonkeyPatch.context() as patch:
        unfinished = works._Check([], finished=False)
        patch.setattr(works, "_claims_on_other_artists", lambda artist, fingerprints: unfinished)
        return works.work_register(
            artist=artist, data=artwork_bytes(_SEED_BASE + seed), title=f"Held {seed}"
        ).work


def test_a_held_work_says_why_to_its_artist_and_only_an_operator_releases_it(
    alice, bob, bob_client, operator_client
):
    held = _held_work(bob, 610)
    assert held.hold == "unchecked"

    listed = bob_client.get(WORKS).content.decode()
    assert "Held for review" in listed
    page = bob_client.get(reverse("admin:registry_work_change", args=[held.pk])).content.decode()
    assert "an operator will review it" in page
    in_chinese = client_for(bob.user, HTTP_ACCEPT_LANGUAGE="zh-hans").get(
        reverse("admin:registry_work_change", args=[held.pk])
    )
    assert "运营人员将进行审核" in in_chinese.content.decode()

    # bob is not offered the action, and posting it anyway releases nothing.
    assert "review_held_works" not in listed
    bob_client.post(WORKS, {"action": "review_held_works", "_selected_action": [held.pk]})
    held.refresh_from_db()
    assert held.hold == "unchecked"
    assert not ConsentEvent.objects.filter(kind=ConsentEventKind.WORK_HOLD_CLEARED).exists()

    response = operator_client.post(
        WORKS, {"action": "review_held_works", "_selected_action": [held.pk]}, follow=True
    )
    held.refresh_from_db()
    assert held.hold == ""
    assert any("was released" in message for message in _messages(response))
    cleared = ConsentEvent.objects.get(kind=ConsentEventKind.WORK_HOLD_CLEARED)
    assert cleared.work_id == held.pk and cleared.payload["by"] == "admin:olga"


def test_an_operators_check_that_fails_keeps_the_work_held_and_says_so(
    bob, operator_client, monkeypatch
):
    """The full check raising (it cannot finish) is an error message on the works list, not a
    server error; the work stays held and nothing is ledgered."""
    held = _held_work(bob, 611)

    def cannot_finish(fingerprint, **options):
        raise RuntimeError("an unlimited check ran out of its budget")

    monkeypatch.setattr("registry.services.works.match_item_fully", cannot_finish)
    response = operator_client.post(
        WORKS, {"action": "review_held_works", "_selected_action": [held.pk]}, follow=True
    )

    assert response.status_code == 200
    held.refresh_from_db()
    assert held.hold == "unchecked"
    assert any("is still held: it could not be checked" in m for m in _messages(response))
    assert not ConsentEvent.objects.filter(kind=ConsentEventKind.WORK_HOLD_CLEARED).exists()
