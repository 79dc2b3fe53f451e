"""Operators export and follow webhook deliveries in the admin; artists cannot."""

import json
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from registry.models import WebhookDelivery
from registry.services.compliance import webhook_endpoint_register
from registry.services.withdrawals import withdrawal_fan_out
from registry.services.works import work_remove
from tests.factories import UserFactory


@pytest.fixture
def operator_client(db) -> Client:
    user: Any = UserFactory(username="olga")
    user.user_permissions.add(Permission.objects.get(codename="operate_registry"))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def delivery(screened, works, acme, receiver):
    webhook_endpoint_register(organization=acme, url=receiver.url)
    work_remove(work=works["allowed"])
    withdrawal_fan_out(event_id=works["allowed"].consent_events.order_by("-sequence")[0].pk)
    return WebhookDelivery.objects.get()


def test_an_operator_downloads_an_export_from_the_export_page(operator_client, screened, acme):
    page = operator_client.get("/admin/registry/withdrawalnotice/exports/")
    assert page.status_code == 200 and b"Compliance exports" in page.content

    response = operator_client.post(
        "/admin/registry/withdrawalnotice/exports/",
        {"kind": "screening-report", "format": "json", "organization": acme.pk},
    )

    assert response.status_code == 200
    report = json.loads(b"".join(response.streaming_content))
    assert report["screenings"][0]["screening_id"] == str(screened.id)


def test_an_artist_cannot_open_the_export_page(alice, screened):
    client = Client()
    client.force_login(alice.user)
    assert client.get("/admin/registry/withdrawalnotice/exports/").status_code == 403


def test_deliveries_and_their_attempts_are_listed(operator_client, delivery):
    from registry.compliance_tasks import deliver_webhook

    deliver_webhook.apply(args=[delivery.pk])

    listing = operator_client.get("/admin/registry/webhookdelivery/")
    detail = operator_client.get(f"/admin/registry/webhookdelivery/{delivery.pk}/change/")

    assert listing.status_code == 200 and str(delivery.notice.public_id).encode() in listing.content
    assert detail.status_code == 200 and b"HTTP status" in detail.content


def test_the_redeliver_action_queues_the_delivery_again(
    operator_client, delivery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = operator_client.post(
            "/admin/registry/webhookdelivery/",
            {"action": "redeliver", "_selected_action": [delivery.pk]},
        )

    assert response.status_code == 302
    assert len(callbacks) == 1


def test_screening_actions_export_the_selected_screenings(screened):
    from registry.admin.compliance import SCREENING_EXPORT_ACTIONS

    assert {action.__name__ for action in SCREENING_EXPORT_ACTIONS} >= {
        "export_eu_ai_act_json",
        "export_croissant_jsonld",
    }
