"""URL-prefix reservations: an item whose source URL lies under an artist's verified prefix."""

from __future__ import annotations

import re

import pytest

from registry.optout import PrefixError, normalize_prefix, prefixes, url_key, url_matches_prefix

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


# URLs already in normal form take a fast path; it must give what the long way gives.
SOURCE_URLS = [
    "https://a.example/x/y.png",
    "http://a.example",
    "https://a.example/x?q=1&b=2#frag",
    "https://a.example/x?",
    "https://a.example?q",
    "https://a.example/~u/_x-y.z",
    "https://a.example//x//y/",
    "https://a.example/x/./y",
    "https://a.example/x/..",
    "https://a.example/.well-known/x",
    "https://A.Example/x",
    "https://a.example:443/x",
    "http://a.example:8080/x",
    "https://a.example/%66ox",
    "https://user@a.example/x",
    "https://a.example./x",
    "  https://a.example/x  ",
]


@pytest.mark.parametrize("url", SOURCE_URLS)
def test_a_source_url_has_one_key_whichever_way_it_is_read(url, monkeypatch):
    fast = url_key(url)
    monkeypatch.setattr(prefixes, "_NORMAL_URL", re.compile(r"(?!)"))  # never matches
    assert fast == url_key(url)


def test_spellings_of_one_source_share_a_key_and_others_do_not():
    same = [
        "https://a.example/x/y.png",
        "http://A.example:80/x/./y.png#top",
        "https://a.example/x/%79.png",
    ]
    assert {url_key(url) for url in same} == {"a.example/x/y.png"}
    assert url_key("https://a.example/x/y.png?v=2") != url_key("https://a.example/x/y.png")
    with pytest.raises(PrefixError):
        url_key("ftp://a.example/x.png")
