"""Withdrawal that propagates: the feed, signed webhooks to a real local receiver, retries,
redelivery, and the artist's view of who was told."""

import json

import pytest

from registry.compliance_tasks import deliver_webhook, fan_out_withdrawal
from registry.models import (
    ConsentEvent,
    ConsentEventKind,
    DeliveryStatus,
    Permission,
    Purpose,
    WebhookDelivery,
    WithdrawalNotice,
)
from registry.services import compliance as webhooks
from registry.services.compliance import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    verify_signature_header,
    webhook_endpoint_register,
    webhook_redeliver,
)
from registry.services.grants import grant_revoke
from registry.services.terms import default_terms_set, terms_set
from registry.services.withdrawals import withdrawal_fan_out
from registry.services.works import work_remove
from tests.api.conftest import api_client, item
from tests.compliance.conftest import screen
from tests.factories import TEST_PASSWORD


def _latest_event() -> ConsentEvent:
    return ConsentEvent.objects.order_by("-sequence")[0]


def _withdraw(alice, work, django_capture_on_commit_callbacks):
    """alice withdraws consent for `work`; returns the event, fanned out as the task would."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        terms_set(
            artist=alice,
            works=[work],
            purpose=Purpose.AI_TRAINING,
            permission=Permission.NOT_ALLOWED,
        )
    assert len(callbacks) == 1  # the fan-out, scheduled for after the commit
    event = _latest_event()
    fan_out_withdrawal.apply(args=[event.pk])
    return event


def test_withdrawing_consent_tells_the_organization_which_items_are_affected(
    screened, works, alice, acme_client, django_capture_on_commit_callbacks
):
    event = _withdraw(alice, works["allowed"], django_capture_on_commit_callbacks)

    feed = acme_client.get("/api/v1/consent-changes", {"after": 0}).json()

    (change,) = feed["results"]
    assert change["consent_event"]["sequence"] == event.sequence
    assert change["consent_event"]["kind"] == "terms_changed"
    assert change["work_ids"] == [works["allowed"].pk]
    assert change["affected"] == [
        {"screening_id": str(screened.id), "purpose": "ai_training", "item_ids": ["mine"]}
    ]
    assert feed["next_after"] is None


def test_an_organization_never_told_allowed_hears_nothing(
    screened, works, alice, globex, django_capture_on_commit_callbacks
):
    _withdraw(alice, works["allowed"], django_capture_on_commit_callbacks)

    feed = api_client(globex).get("/api/v1/consent-changes").json()

    assert feed["results"] == []


def test_a_change_that_keeps_the_permission_tells_nobody(screened, works, alice):
    # alice's work 1 has terms of its own; her defaults do not govern it.
    event = default_terms_set(
        artist=alice, purpose=Purpose.AI_TRAINING, permission=Permission.NOT_ALLOWED
    )

    assert event is not None
    assert withdrawal_fan_out(event_id=event.pk) == 0
    assert not WithdrawalNotice.objects.exists()


def test_a_revoked_grant_tells_only_the_grantee_about_licensed_items(screened, works):
    grant_revoke(grant=works["grant"])

    withdrawal_fan_out(event_id=_latest_event().pk)

    (notice,) = WithdrawalNotice.objects.all()
    assert notice.organization.name == "Acme AI"
    assert notice.affected[0]["item_ids"] == ["licensed"]


def test_a_removed_work_is_withdrawn_for_every_purpose(screened, works):
    work_remove(work=works["allowed"], reason="artist's request")

    withdrawal_fan_out(event_id=_latest_event().pk)

    assert WithdrawalNotice.objects.get().affected[0]["item_ids"] == ["mine"]


def test_the_fan_out_runs_once_however_often_it_is_delivered(screened, works):
    work_remove(work=works["allowed"])
    event = _latest_event()

    assert withdrawal_fan_out(event_id=event.pk) == 1
    assert withdrawal_fan_out(event_id=event.pk) == 0
    assert WithdrawalNotice.objects.count() == 1


def test_the_feed_pages_by_ledger_sequence(works, acme_client, acme, run_pending, alice):
    screen(acme_client, [item("a", 1), item("b", 3)])
    run_pending()
    work_remove(work=works["allowed"])
    withdrawal_fan_out(event_id=_latest_event().pk)
    work_remove(work=works["licensed"])
    withdrawal_fan_out(event_id=_latest_event().pk)

    first = acme_client.get("/api/v1/consent-changes", {"limit": 1}).json()
    second = acme_client.get("/api/v1/consent-changes", {"after": first["next_after"], "limit": 1})
    third = acme_client.get(second.json()["next"]).json()

    assert [r["affected"][0]["item_ids"] for r in first["results"]] == [["a"]]
    assert [r["affected"][0]["item_ids"] for r in second.json()["results"]] == [["b"]]
    assert third["results"] == [] and third["next_after"] is None
    assert first["next_after"] < second.json()["next_after"]


def test_the_feed_needs_an_organization(client, db):
    assert client.get("/api/v1/consent-changes").status_code in (401, 403)


# --- Webhooks ---------------------------------------------------------------------------------


def _register(acme_client, url):
    response = acme_client.post("/api/v1/webhooks", {"url": url}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_a_withdrawal_is_posted_signed_to_the_organizations_receiver(
    screened, works, alice, acme_client, receiver, django_capture_on_commit_callbacks
):
    endpoint = _register(acme_client, receiver.url)

    event = _withdraw(alice, works["allowed"], django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert deliver_webhook.apply(args=[delivery.pk]).get() is True

    (request,) = receiver.requests
    headers, body = request["headers"], request["body"]
    assert verify_signature_header(headers[SIGNATURE_HEADER], body, endpoint["secret"])
    assert not verify_signature_header(headers[SIGNATURE_HEADER], body + b" ", endpoint["secret"])
    sent = json.loads(body)
    assert headers[EVENT_ID_HEADER] == sent["id"]
    assert sent["consent_event"]["sequence"] == event.sequence
    assert sent["affected"] == [
        {"screening_id": str(screened.id), "purpose": "ai_training", "item_ids": ["mine"]}
    ]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1


def test_a_failing_receiver_is_retried_until_it_answers(
    screened, works, acme_client, receiver, monkeypatch
):
    _register(acme_client, receiver.url)
    receiver.answers = [500, 503]
    work_remove(work=works["allowed"])
    withdrawal_fan_out(event_id=_latest_event().pk)
    delivery = WebhookDelivery.objects.get()

    deliver_webhook.apply(args=[delivery.pk])  # eager: each retry runs at once

    assert len(receiver.requests) == 3
    assert len({r["headers"][EVENT_ID_HEADER] for r in receiver.requests}) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 3
    assert [t.status_code for t in delivery.tries.order_by("number")] == [500, 503, 200]


def test_a_receiver_that_never_answers_is_given_up_on(screened, works, acme_client, receiver):
    _register(acme_client, receiver.url)
    receiver.answers = [500] * webhooks.MAX_ATTEMPTS
    work_remove(work=works["allowed"])
    withdrawal_fan_out(event_id=_latest_event().pk)
    delivery = WebhookDelivery.objects.get()

    deliver_webhook.apply(args=[delivery.pk])

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == webhooks.MAX_ATTEMPTS == len(receiver.requests)


def test_the_back_off_grows_and_is_capped():
    delays = [webhooks.backoff_seconds(n) for n in range(1, 12)]
    assert delays[:3] == [30, 60, 120]
    assert max(delays) == webhooks.MAX_BACKOFF_SECONDS


def test_redelivery_sends_the_same_event_id(screened, works, acme_client, receiver):
    _register(acme_client, receiver.url)
    work_remove(work=works["allowed"])
    withdrawal_fan_out(event_id=_latest_event().pk)
    delivery = WebhookDelivery.objects.get()
    deliver_webhook.apply(args=[delivery.pk])

    assert webhook_redeliver(delivery=delivery)
    deliver_webhook.apply(args=[delivery.pk])

    first, second = receiver.requests
    assert first["headers"][EVENT_ID_HEADER] == second["headers"][EVENT_ID_HEADER]
    assert first["body"] == second["body"]


def test_a_duplicate_task_does_not_post_twice(screened, works, acme_client, receiver):
    _register(acme_client, receiver.url)
    work_remove(work=works["allowed"])
    withdrawal_fan_out(event_id=_latest_event().pk)
    delivery = WebhookDelivery.objects.get()

    deliver_webhook.apply(args=[delivery.pk])
    deliver_webhook.apply(args=[delivery.pk])

    assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://example.org/hook",
        "ftp://example.org/hook",
        "https://10.0.0.5/hook",
        "https://user:pw@example.org/hook",
    ],
)
def test_a_webhook_must_be_https_outside_loopback(acme_client, url):
    response = acme_client.post("/api/v1/webhooks", {"url": url}, format="json")
    assert response.status_code == 400


def test_loopback_is_refused_in_production(acme, settings):
    settings.PRODUCTION = True
    with pytest.raises(Exception, match="this machine"):
        webhook_endpoint_register(organization=acme, url="http://127.0.0.1:9/hook")


def test_the_secret_is_shown_once_and_endpoints_are_scoped(acme_client, globex):
    created = _register(acme_client, "https://hooks.example.org/consentry")
    listed = acme_client.get("/api/v1/webhooks").json()
    other = api_client(globex)

    assert created["secret"].startswith("whsec_")
    assert "secret" not in listed[0]
    assert other.get(f"/api/v1/webhooks/{created['id']}").status_code == 404
    assert other.delete(f"/api/v1/webhooks/{created['id']}").status_code == 404
    assert acme_client.delete(f"/api/v1/webhooks/{created['id']}").status_code == 204
    assert acme_client.get("/api/v1/webhooks").json()[0]["active"] is False


# --- The artist's view ------------------------------------------------------------------------


def _artist_client(client, artist):
    client.login(username=artist.user.username, password=TEST_PASSWORD)
    return client


def test_the_artist_sees_who_was_told_and_when(
    screened, works, alice, client, acme_client, receiver
):
    _register(acme_client, receiver.url)
    work_remove(work=works["allowed"])
    withdrawal_fan_out(event_id=_latest_event().pk)
    deliver_webhook.apply(args=[WebhookDelivery.objects.get().pk])

    response = _artist_client(client, alice).get(
        f"/api/v1/artist/works/{works['allowed'].pk}/withdrawals"
    )

    assert response.status_code == 200
    (told,) = response.json()["results"]
    assert told["organization"] == "Acme AI"
    assert told["kind"] == ConsentEventKind.WORK_REMOVED
    assert told["item_count"] == 1
    assert told["published_at"] and told["webhook_delivered_at"]


def test_another_artists_work_answers_404(screened, works, bob, client):
    response = _artist_client(client, bob).get(
        f"/api/v1/artist/works/{works['allowed'].pk}/withdrawals"
    )
    assert response.status_code == 404


def test_exports_after_a_withdrawal_flag_or_leave_out_the_withdrawn_item(screened, works, acme):
    from tests.compliance.test_exports import export_text

    work_remove(work=works["allowed"])
    event = _latest_event()
    withdrawal_fan_out(event_id=event.pk)

    _header, *records = map(json.loads, export_text("china-art7", acme).splitlines())
    croissant = json.loads(export_text("croissant", acme))

    flags = {record["item_id"]: record["consent_withdrawn_at"] for record in records}
    assert flags == {"mine": event.sequence, "licensed": None}
    (record,) = croissant["recordSet"][0]["data"]
    assert record["items/id"] == "licensed"


def test_a_change_to_allowed_schedules_no_fan_out(works, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        terms_set(
            artist=alice,
            works=[works["allowed"]],
            purpose=Purpose.DATA_MINING,
            permission=Permission.ALLOWED,
        )
    assert callbacks == []
