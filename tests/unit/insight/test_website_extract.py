"""What the website collector reads from a page: every web.* signal, personal data kept to a
sealed excerpt, and hostile or broken content read without an exception."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from tenantry.insight.collectors.html import owner_in_text, parse_page
from tenantry.insight.collectors.website import home_facts, imprint_facts
from tenantry.insight.facts import Fact, Retrieval
from tenantry.models.enums import EvidenceSource
from tests.insight_support.targets import page

BOOLEAN_KEYS = (
    "web.description_present",
    "web.mobile_viewport",
    "web.structured_data",
    "web.opening_hours_listed",
    "web.phone_listed",
    "web.menu_link",
    "web.booking_link",
    "web.links.facebook",
    "web.links.instagram",
    "web.imprint",
)


def fetched(
    body: bytes,
    content_type: str | None = "text/html; charset=utf-8",
    status: int | None = 200,
    uri: str = "https://www.example.com/",
) -> Retrieval:
    return Retrieval(
        collector="website",
        source=EvidenceSource.WEBSITE,
        uri=uri,
        retrieved_at=datetime(2025, 6, 1, tzinfo=UTC),
        body=body,
        status_code=status,
        content_type=content_type,
        error=None if status is None or 200 <= status < 300 else f"HTTP {status}",
        elapsed_ms=42,
    )


def by_key(facts: list[Fact]) -> dict[str, Fact]:
    return {f.key: f for f in facts}


def test_a_complete_home_page_states_every_signal() -> None:
    r, facts, _ = home_facts(fetched(page("bistro_home.html")))
    found = by_key(facts)
    assert r.ok
    assert all(found[k].value is True for k in BOOLEAN_KEYS), {
        k: found[k].value for k in BOOLEAN_KEYS
    }
    assert found["web.reachable"].value is True and found["web.https"].value is True
    assert found["web.status"].value == 200
    assert found["web.title"].value == "Trattoria Esempio \u2013 Italienisch in Berlin"
    assert found["web.page_bytes"].value == len(page("bistro_home.html"))
    assert found["web.load_ms"].value == 42
    assert all(f.extractor == "website-html" and f.extractor_version == "1" for f in facts)


def test_the_owner_named_in_json_ld_is_only_in_the_sealed_excerpt() -> None:
    _, facts, _ = home_facts(fetched(page("bistro_home.html")))
    owner = by_key(facts)["web.owner_named"]
    assert owner.value is True and owner.personal
    assert owner.excerpt == "founder: Erika Mustermann"
    assert owner.claim == "The website names the owner."
    for fact in facts:
        if fact is not owner:
            assert "Mustermann" not in f"{fact.value} {fact.claim} {fact.excerpt}"
            assert not fact.personal


def test_a_bare_page_states_what_is_missing() -> None:
    _, facts, _ = home_facts(fetched(page("bare.html"), uri="http://werkstatt.example.org/"))
    found = by_key(facts)
    assert [k for k in BOOLEAN_KEYS if found[k].value] == []
    assert found["web.https"].value is False
    assert found["web.title"].value == "Werkstatt Beispiel"
    assert "web.owner_named" not in found
    assert found["web.menu_link"].claim == "The home page links no menu."


def test_a_page_without_title_states_none() -> None:
    _, facts, _ = home_facts(fetched(b"<html><body>hi</body></html>"))
    assert by_key(facts)["web.title"].value is None


@pytest.mark.parametrize(
    ("text", "owner"),
    [
        ("Impressum\nInhaberin: Erika Mustermann\nBerlin", "Inhaberin: Erika Mustermann"),
        ("Inhaber Erika Mustermann", "Inhaber Erika Mustermann"),
        ("Vertreten durch:\nErika Mustermann", "Vertreten durch: Erika Mustermann"),
        ("Owner: Erika von Mustermann, Berlin", "Owner: Erika von Mustermann, Berlin"),
        ("Geschäftsführer: Max Mustermann", "Geschäftsführer: Max Mustermann"),
        ("Inhaber: Trattoria Esempio GmbH", None),
        ("Inhaber: siehe unten", None),
        ("Inhaber:", None),
        ("Our owners love pasta", None),
    ],
)
def test_an_owner_line_names_a_person_only(text: str, owner: str | None) -> None:
    assert owner_in_text(text) == owner


def test_the_imprint_page_yields_the_owner_as_personal_data() -> None:
    _, facts = imprint_facts(
        fetched(page("impressum.html"), uri="https://www.example.com/impressum")
    )
    found = by_key(facts)
    assert found["web.imprint_reachable"].value is True
    owner = found["web.owner_named"]
    assert owner.personal and "Erika Mustermann" in (owner.excerpt or "")
    assert "Mustermann" not in owner.claim and owner.extractor == "website-imprint"


@pytest.mark.parametrize(
    ("html", "key", "value"),
    [
        (b"<p>Mo-Fr 08:00-17:30, Sa 9.00 bis 12.00</p>", "web.opening_hours_listed", True),
        (b"<p>Mon 9:00 - 18:00</p>", "web.opening_hours_listed", True),
        (b"<p>Call 08:00</p>", "web.opening_hours_listed", False),
        (b'<a href="https://www.opentable.example.com/r/x">Book</a>', "web.booking_link", True),
        (b'<iframe src="https://app.resmio.example.com/w"></iframe>', "web.booking_link", True),
        (b'<a href="/online-termin">Online-Termin</a>', "web.booking_link", True),
        (b'<a href="https://fb.me/x">f</a>', "web.links.facebook", True),
        (b'<a href="https://notfacebook.example.com/">f</a>', "web.links.facebook", False),
        (b'<a href="/legal-notice">Legal</a>', "web.imprint", True),
        (b'<meta name="viewport" content="initial-scale=1">', "web.mobile_viewport", False),
        (b'<meta name="description" content="  ">', "web.description_present", False),
        (
            b'<script type="application/ld+json">{"@graph":[{"@type":["Thing",'
            b'"http://schema.org/AutoRepair"],"telephone":"1"}]}</script>',
            "web.structured_data",
            True,
        ),
        (
            b'<script type="application/ld+json">{"@type":"Organization"}</script>',
            "web.structured_data",
            False,
        ),
        (
            b'<script type="application/ld+json">[{"@type":"Bakery","openingHours":"Mo-Sa"}]'
            b"</script>",
            "web.opening_hours_listed",
            True,
        ),
    ],
)
def test_each_signal_is_read_where_pages_put_it(html: bytes, key: str, value: bool) -> None:
    _, facts, _ = home_facts(fetched(html))
    assert by_key(facts)[key].value is value


def _random_bytes(seed: int) -> bytes:
    rng = random.Random(seed)
    alphabet = b"<>/=\"' abcdefghij!-[]{}:;\n\t&#\xc3\xa4\xff"
    return bytes(rng.choice(alphabet) for _ in range(20_000))


@pytest.mark.parametrize(
    "body",
    [
        b"<html><head><title>unclosed",
        b"<![foo bar]]><p>after",
        b"<div" * 5000,
        b'<script type="application/ld+json">{"@type": "Restaurant", broken</script>',
        b'<script type="application/ld+json">' + b"[" * 100_000 + b"</script>",
        b'<a href="http://[::1">x</a><a href="tel:">y</a>',
        b"<title>" + "Ünïcödé ".encode("latin-1") + b"</title>",
        "<p>Inhaber: Erika Mustermann</p>".encode("utf-16"),
        _random_bytes(1),
        _random_bytes(2),
    ],
)
def test_broken_html_is_read_without_an_exception(body: bytes) -> None:
    r, facts, _ = home_facts(fetched(body, content_type="text/html; charset=no-such-charset"))
    assert by_key(facts)["web.reachable"].value is True or not r.ok


def test_broken_json_ld_is_counted_and_the_page_still_read() -> None:
    parsed = parse_page(
        b'<title>x</title><script type="application/ld+json">{bad</script>'
        b'<script type="application/ld+json">{"@type":"Restaurant"}</script>',
        "text/html",
    )
    assert parsed.json_ld_broken == 1 and parsed.json_ld == [{"@type": "Restaurant"}]
    assert parsed.title == "x"


def test_binary_content_is_reachable_but_not_parsed() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    for content_type in ("image/png", "text/html", None):
        _, facts, parsed = home_facts(fetched(png, content_type=content_type))
        assert [f.key for f in facts] == ["web.reachable"] and parsed is None
        assert "not parsed" in facts[0].claim


def test_an_error_status_is_stated_and_no_answer_states_nothing() -> None:
    r, facts, _ = home_facts(fetched(b"oops", status=503))
    found = by_key(facts)
    assert r.error == "HTTP 503"
    assert found["web.reachable"].value is False and found["web.status"].value == 503
    refused = fetched(b"", status=None)
    assert home_facts(refused)[1] == []


def test_a_truncated_page_is_read_as_far_as_it_goes() -> None:
    body = page("bistro_home.html")[:1500]
    r = fetched(body)
    _, facts, _ = home_facts(Retrieval(**{**r.__dict__, "truncated": True}))
    found = by_key(facts)
    assert found["web.mobile_viewport"].value is True
    assert "cut at the size limit" in found["web.page_bytes"].claim
