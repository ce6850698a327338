"""scrub: passwords, query-string values and known secrets never survive into an error message."""

from __future__ import annotations

import pytest

from jobs.sources.secrets import scrub, url_secrets


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (
            "could not connect to postgresql+psycopg://u:s3cret@127.0.0.1:1/db?sslpassword=x",
            "postgresql+psycopg://u:***@127.0.0.1:1/db?sslpassword=***",
        ),
        (
            "Client error '404 Not Found' for url 'https://host/p?token=abc&page=2'",
            "for url 'https://host/p?token=***&page=***'",
        ),
        ("paging does not end (at /scores?cursor=abc)", "(at /scores?cursor=***"),
        ("invalid dsn: host=db password=s3cret user=u", "password=*** user=u"),
        ("password='two words' sslpassword=\"q\"", "password=*** sslpassword=***"),
        ("api_key: abc123, next", "api_key: ***, next"),
    ],
)
def test_patterns_are_masked(text: str, kept: str) -> None:
    out = scrub(text)
    assert kept in out
    for secret in ("s3cret", "abc", "two words", '"q"'):
        assert secret not in out


def test_known_secrets_are_masked_anywhere_also_url_encoded() -> None:
    text = "auth failed for Bearer tok/en+1 (sent tok%2Fen%2B1)"
    out = scrub(text, ["Bearer tok/en+1", "tok/en+1", None])
    assert "tok" not in out
    assert out == "auth failed for *** (sent ***)"


def test_short_secrets_are_left_to_the_patterns() -> None:
    # A one-letter secret would blank out every "x" of the message; where it sits in a URL or a
    # key=value it is masked all the same.
    out = scrub("box ?sslpassword=x next", ["x"])
    assert out == "box ?sslpassword=*** next"


def test_ordinary_text_is_untouched() -> None:
    text = "data/a.csv is not UTF-8 text (byte 0x8b at offset 1: a gzip file?): name it .csv.gz"
    assert scrub(text) == text


def test_url_secrets() -> None:
    url = "postgresql+psycopg://u:s3cret@127.0.0.1:1/db?sslpassword=xyz&application_name=handoff"
    assert url_secrets(url) == ["s3cret", "xyz", "handoff"]
    assert url_secrets("https://example.com/scores") == []
