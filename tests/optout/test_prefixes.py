"""URL-prefix reservations: an item whose source URL lies under an artist's verified prefix."""

from __future__ import annotations

import pytest

from registry.optout import PrefixError, normalize_prefix, url_matches_prefix

PREFIX = "https://www.xiaohongshu.com/user/profile/alice"


@pytest.mark.parametrize(
    "url",
    [
        "https://www.xiaohongshu.com/user/profile/alice",
        "https://www.xiaohongshu.com/user/profile/alice/",
        "https://www.xiaohongshu.com/user/profile/alice/posts/1.jpg?w=800#top",
        "HTTPS://WWW.XIAOHONGSHU.COM:443/user/profile/alice/1.jpg",
        "http://www.xiaohongshu.com/user/profile/alice/1.jpg",  # http and https alike
        "https://www.xiaohongshu.com/user/profile/%61lice/1.jpg",  # %61 is "a"
        "https://www.xiaohongshu.com/user/x/../profile/alice/1.jpg",
        "https://www.xiaohongshu.com./user/profile/alice/1.jpg",
    ],
)
def test_urls_under_the_prefix_match(url):
    assert url_matches_prefix(url, PREFIX)


@pytest.mark.parametrize(
    "url",
    [
        "https://www.xiaohongshu.com/user/profile/alicebob/1.jpg",  # another user's page
        "https://www.xiaohongshu.com/user/profile/",
        "https://xiaohongshu.com/user/profile/alice/1.jpg",  # another host
        "https://www.xiaohongshu.com.evil.example/user/profile/alice/1.jpg",
        "https://www.xiaohongshu.com:8443/user/profile/alice/1.jpg",
        "https://www.xiaohongshu.com/user/profile/alice/../../bob/1.jpg",
        "ftp://www.xiaohongshu.com/user/profile/alice/1.jpg",
        "not a url",
        "https://www.xiaohongshu.com:99999/user/profile/alice/",
    ],
)
def test_urls_outside_the_prefix_do_not(url):
    assert not url_matches_prefix(url, PREFIX)


def test_a_prefix_ending_in_a_slash_covers_what_is_below_it():
    assert url_matches_prefix("https://a.example/art/x.png", "https://a.example/art/")
    assert not url_matches_prefix("https://a.example/artist/x.png", "https://a.example/art/")


def test_normalized_prefixes():
    assert normalize_prefix("HTTPS://A.Example:443") == "https://a.example/"
    assert normalize_prefix("http://a.example:8080/%7Ealice/") == "http://a.example:8080/~alice/"


@pytest.mark.parametrize(
    "prefix",
    [
        "a.example/art",
        "javascript:alert(1)",
        "https://user:pw@a.example/",
        "https://a.example/?q=1",
        "https://a.example/#x",
        "https://a.example:99999/",
    ],
)
def test_prefixes_that_cannot_be_registered(prefix):
    with pytest.raises(PrefixError):
        normalize_prefix(prefix)
