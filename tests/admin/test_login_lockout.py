"""Brute force on the admin login (the login lockout): after 10 wrong passwords for an account,
or from an address, even the right password is refused until the lockout ends or an operator
unlocks it."""

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from tests.admin.conftest import client_for
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture(autouse=True)
def _fast_passwords(settings) -> None:
    # Dozens of logins per test: PBKDF2 would spend the test hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _log_in(client: Client, username: str, password: str) -> int:
    response = client.post(LOGIN, {"username": username, "password": password})
    return response.status_code


def _fail(times: int, username: str, address: str = "203.0.113.7") -> None:
    for _ in range(times):
        client = Client(REMOTE_ADDR=address)
        assert _log_in(client, username, "wrong-password") in {200, 429}


def test_ten_wrong_passwords_lock_the_account_even_from_another_address(alice):
    _fail(10, "alice")
    client = Client(REMOTE_ADDR="198.51.100.20")
    response = client.post(LOGIN, {"username": "alice", "password": TEST_PASSWORD})
    assert response.status_code == 429
    assert b"Too many failed logins" in response.content
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302  # still sent to the login page


def test_nine_wrong_passwords_do_not_lock(alice):
    _fail(9, "alice")
    client = Client(REMOTE_ADDR="203.0.113.7")
    assert _log_in(client, "alice", TEST_PASSWORD) == 302
    assert client.get("/admin/").status_code == 200


def test_ten_failures_from_one_address_lock_that_address_for_every_account(alice, bob):
    for number in range(10):
        _fail(1, f"guess{number}", address="203.0.113.9")
    assert _log_in(Client(REMOTE_ADDR="203.0.113.9"), "bob", TEST_PASSWORD) == 429
    # bob himself, from elsewhere, is not locked out.
    assert _log_in(Client(REMOTE_ADDR="198.51.100.1"), "bob", TEST_PASSWORD) == 302


def test_the_lockout_message_is_in_chinese_for_a_chinese_reader(alice):
    _fail(10, "alice")
    client = Client(REMOTE_ADDR="203.0.113.7", HTTP_ACCEPT_LANGUAGE="zh-hans")
    response = client.post(LOGIN, {"username": "alice", "password": TEST_PASSWORD})
    assert response.status_code == 429
    assert "登录失败次数过多" in response.content.decode()


def test_the_lockout_ends_after_the_cool_off(alice, settings):
    _fail(10, "alice")
    AccessAttempt.objects.update(attempt_time="2000-01-01T00:00:00Z")
    assert _log_in(Client(REMOTE_ADDR="203.0.113.7"), "alice", TEST_PASSWORD) == 302


def test_an_operator_unlocks_an_account_in_the_admin(alice, operator):
    _fail(10, "alice")
    operator_client = client_for(operator)
    changelist = reverse("admin:axes_accessattempt_changelist")
    page = operator_client.get(changelist)
    assert page.status_code == 200 and b"alice" in page.content
    attempts = list(AccessAttempt.objects.values_list("pk", flat=True))
    response = operator_client.post(
        changelist, {"action": "unlock", "index": 0, "_selected_action": attempts}, follow=True
    )
    assert b"of failed logins was removed" in response.content
    assert _log_in(Client(REMOTE_ADDR="203.0.113.7"), "alice", TEST_PASSWORD) == 302


def test_an_artist_cannot_see_or_unlock_login_failures(alice, bob):
    _fail(3, "bob")
    page = client_for(alice.user).get(reverse("admin:axes_accessattempt_changelist"))
    assert page.status_code in {302, 403, 404}
    assert b"bob" not in page.content


def test_the_management_command_unlocks_an_account(alice):
    _fail(10, "alice")
    call_command("axes_reset_username", "alice")
    assert _log_in(Client(REMOTE_ADDR="203.0.113.7"), "alice", TEST_PASSWORD) == 302


def test_the_client_address_is_the_one_the_trusted_proxy_saw(alice, settings):
    settings.CONSENTRY_TRUSTED_PROXY_COUNT = 1
    # Behind the proxy every request comes from 10.0.0.2; the client forges a first entry.
    for number in range(10):
        client = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"1.2.3.{number}, 203.0.113.5")
        _log_in(client, f"guess{number}", "wrong")
    locked = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.5")
    other = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.3")
    assert _log_in(locked, "alice", TEST_PASSWORD) == 429
    assert _log_in(other, "alice", TEST_PASSWORD) == 302


def test_a_user_made_for_the_test_logs_in_with_the_form():
    # The login form works at all with axes' backend in front of Django's.
    UserFactory.create(username="carol", is_staff=True)
    assert _log_in(Client(), "carol", TEST_PASSWORD) == 302


def test_the_test_clients_login_still_works_with_axes_in_front(alice):
    # Client.login() authenticates without a request; the lockout above is untouched by it.
    assert Client().login(username="alice", password=TEST_PASSWORD)
    assert not Client().login(username="alice", password="wrong")
