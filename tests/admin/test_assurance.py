"""The artist's admin says plainly whether they are verified, what it changes and how to become
verified; disputes tell each side what they change, without naming the other party."""

import pytest
from django.urls import reverse

from registry.demo_art import artwork_bytes
from registry.services.artists import artist_assurance_set
from registry.services.sites import site_register, site_verify
from registry.services.works import work_register
from tests.admin.conftest import client_for, repost_bytes
from tests.conftest import _SEED_BASE

pytestmark = pytest.mark.django_db


def _profile(artist, **headers):
    url = reverse("admin:registry_artist_change", args=[artist.pk])
    response = client_for(artist.user, **headers).get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_an_unverified_artist_is_told_what_it_changes_and_how_to_be_verified(mallory):
    page = _profile(mallory)

    assert "You are not verified yet." in page
    assert "consent_unverified" in page
    assert "To become verified, send the registry" in page
    assert "A platform where you publish can also attest your uploads" in page


def test_a_verified_artist_is_told_so(alice):
    page = _profile(alice)

    assert "You are verified by the registry" in page
    assert "You are not verified yet." not in page


def test_a_site_verified_artist_is_told_it_counts_for_works_on_that_site(mallory):
    site_verify(site=site_register(artist=mallory, url_prefix="https://mallory.example/"))
    artist_assurance_set(artist=mallory, method="site", evidence="token at mallory.example")

    page = _profile(mallory)
    chinese = _profile(mallory, HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert "You proved control of a site of yours." in page
    assert "for your works published on your verified sites" in page
    assert "您已证明您控制自己的一个网站" in chinese


def test_the_explanation_is_in_chinese_for_a_chinese_browser(mallory):
    page = _profile(mallory, HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert "您尚未通过验证" in page
    assert "如需通过验证" in page
    assert "您发布作品的平台也可以为您在该平台上的上传作证明" in page


def test_each_side_of_a_dispute_is_told_what_it_changes_without_the_other_party(
    alice, mallory, register_work
):
    register_work(alice, seed=21, title="Heron at dawn")
    work_register(artist=mallory, data=repost_bytes(21), title="My heron")
    changelist = reverse("admin:registry_dispute_changelist")

    alice_page = client_for(alice.user).get(changelist).content.decode()
    mallory_page = client_for(mallory.user).get(changelist).content.decode()
    chinese_page = client_for(mallory.user, HTTP_ACCEPT_LANGUAGE="zh-hans").get(changelist)

    assert "Your terms still apply" in alice_page
    assert "Mallory" not in alice_page and "My heron" not in alice_page
    assert "An earlier, better verified registration" in mallory_page
    assert "Alice" not in mallory_page and "Heron at dawn" not in mallory_page
    assert "您的登记不生效" in chinese_page.content.decode()


def test_equally_verified_sides_are_both_told_their_work_is_denied(alice, bob, register_work):
    register_work(alice, seed=22)
    work_register(artist=bob, data=artwork_bytes(_SEED_BASE + 22), title="Copy")
    changelist = reverse("admin:registry_dispute_changelist")

    for artist in (alice, bob):
        page = client_for(artist.user).get(changelist).content.decode()
        assert "Both registrations count as denied" in page
