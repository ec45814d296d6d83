"""Connection strings handed to libpq carry each URL part and parameter unchanged."""

from __future__ import annotations

import pytest
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import make_url

from tenantry.db.provider import conninfo, uri


@pytest.mark.parametrize(
    ("url", "query"),
    [
        ("postgresql://admin:pw@db.example.org:5433/tenantry", {}),
        ("postgresql+psycopg://admin:pw@/tenantry?host=/var/run/postgresql", {}),
        ("postgresql://admin:pw@[::1]:5432/tenantry?sslmode=require", {"sslmode": "require"}),
    ],
)
def test_url_parts_become_keywords(url: str, query: dict[str, str]) -> None:
    parsed = conninfo_to_dict(conninfo(make_url(url)))
    assert parsed["user"] == "admin" and parsed["password"] == "pw"
    assert parsed["dbname"] == "tenantry"
    assert query.items() <= parsed.items()


@pytest.mark.parametrize(
    "options",
    ["-c role=tenantry_owner", "-c statement_timeout=5s -c role=tenantry_owner", "-c x=a+b%20c"],
)
def test_options_with_spaces_and_escapes_reach_libpq_unchanged(options: str) -> None:
    url = make_url("postgresql://admin@/tenantry?host=/tmp/socket").update_query_dict(
        {"options": options}
    )
    assert conninfo_to_dict(conninfo(url))["options"] == options


@pytest.mark.parametrize("password", ["a b", "p+w", "p@ss/w:rd", "50%off", "q'uote\\"])
def test_passwords_with_reserved_characters_survive(password: str) -> None:
    url = make_url("postgresql://admin@127.0.0.1:5432/tenantry").set(password=password)
    parsed = conninfo_to_dict(conninfo(url))
    assert parsed["password"] == password and parsed["host"] == "127.0.0.1"


def test_several_hosts_are_a_comma_separated_list() -> None:
    url = make_url("postgresql://admin@/tenantry?host=a.example.org&host=b.example.org")
    assert conninfo_to_dict(conninfo(url))["host"] == "a.example.org,b.example.org"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://admin:p%40ss%2Fw%3Ard@db.example.org:5433/tenantry?sslmode=require",
        "postgresql+psycopg://admin:a%20b@/tenantry?host=/tmp/socket&port=5433",
        "postgresql://admin@[::1]:5432/tenantry",
    ],
)
def test_the_printed_uri_means_what_the_conninfo_means(url: str) -> None:
    parsed = make_url(url).update_query_dict({"options": "-c role=tenantry_owner"})
    printed = uri(parsed)
    assert printed.startswith("postgresql://") and "+" not in printed
    assert conninfo_to_dict(printed) == conninfo_to_dict(conninfo(parsed))
    assert make_url(printed).database == "tenantry"
