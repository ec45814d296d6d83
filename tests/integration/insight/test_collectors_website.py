"""The website collector against local servers: a real site with an imprint, an http site
moving to https, binary and unreachable sites, and private targets refused end to end."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tenantry.insight.collectors import WebsiteCollector
from tenantry.insight.http import SafeFetcher
from tests.insight_support.server import LocalServer, Reply, local_server
from tests.insight_support.targets import facts_of, page, target
from tests.insight_support.tls import tls_contexts


@pytest.fixture
def site() -> Iterator[LocalServer]:
    with local_server() as s:
        s.route("GET", "/", Reply(body=page("bistro_home.html")))
        s.route("GET", "/impressum", Reply(body=page("impressum.html")))
        yield s


def fetcher(**kw: object) -> SafeFetcher:
    return SafeFetcher(allow_private=True, timeout_seconds=3, **kw)  # type: ignore[arg-type]


def test_the_home_page_and_its_imprint_are_collected(site: LocalServer) -> None:
    collected = WebsiteCollector().collect(target(website=site.url("/")), fetcher())
    assert [r.uri for r, _ in collected.retrievals] == [site.url("/"), site.url("/impressum")]
    assert all(r.ok and r.collector == "website" for r, _ in collected.retrievals)
    home, imprint = ({f.key: f for f in facts} for _, facts in collected.retrievals)
    assert home["web.reachable"].value is True and home["web.https"].value is False
    assert home["web.structured_data"].value is True
    assert home["web.load_ms"].value == collected.retrievals[0][0].elapsed_ms
    assert imprint["web.owner_named"].personal
    assert "Erika Mustermann" in (imprint["web.owner_named"].excerpt or "")
    assert collected.connection_updates == []


def test_an_imprint_on_another_site_is_not_fetched() -> None:
    with local_server() as s:
        s.route(
            "GET", "/", Reply(body=b'<a href="https://other.example.org/impressum">Impressum</a>')
        )
        collected = WebsiteCollector().collect(target(website=s.url("/")), fetcher())
    assert len(collected.retrievals) == 1
    assert facts_of(collected)["web.imprint"].value is True


@pytest.mark.parametrize(
    "href", ["http://[::1", "javascript:void(0)", "mailto:impressum@example.com", "//", "#imprint"]
)
def test_an_unusable_imprint_link_is_not_fetched(href: str) -> None:
    with local_server() as s:
        s.route("GET", "/", Reply(body=f'<a href="{href}">Impressum</a>'.encode()))
        collected = WebsiteCollector().collect(target(website=s.url("/")), fetcher())
    assert len(collected.retrievals) == 1 and len(s.seen) == 1


def test_an_http_site_that_moves_to_https_is_stated_as_https(tmp_path: Path) -> None:
    server_ctx, client_ctx = tls_contexts("www.example.com", tmp_path)
    with local_server(tls=server_ctx) as secure, local_server() as plain:
        secure.route("GET", "/", Reply(body=page("bare.html")))
        plain.route(
            "GET", "/", Reply(301, headers={"Location": secure.url("/", host="www.example.com")})
        )
        f = fetcher(ssl_context=client_ctx, resolver=lambda host, port: ["127.0.0.1"])
        collected = WebsiteCollector().collect(
            target(website=plain.url("/", host="www.example.com")), f
        )
    ((retrieval, _),) = collected.retrievals
    assert retrieval.ok and retrieval.uri == secure.url("/", host="www.example.com")
    assert facts_of(collected)["web.https"].value is True


def test_a_website_given_without_scheme_is_fetched_over_http(site: LocalServer) -> None:
    collected = WebsiteCollector().collect(target(website=f"127.0.0.1:{site.port}"), fetcher())
    assert collected.retrievals[0][0].uri == site.url("/")
    assert facts_of(collected)["web.https"].value is False


def test_a_binary_website_is_reachable_but_not_parsed() -> None:
    with local_server() as s:
        s.route("GET", "/", Reply(body=b"%PDF-1.7\n\x00\x01binary", content_type="application/pdf"))
        collected = WebsiteCollector().collect(target(website=s.url("/")), fetcher())
    ((retrieval, facts),) = collected.retrievals
    assert retrieval.ok and [f.key for f in facts] == ["web.reachable"]
    assert "application/pdf" in facts[0].claim


def test_an_unreachable_website_is_a_failed_retrieval_without_facts() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    collected = WebsiteCollector().collect(target(website=f"http://127.0.0.1:{port}/"), fetcher())
    ((retrieval, facts),) = collected.retrievals
    assert retrieval.error is not None and facts == []


def test_a_website_on_a_private_address_is_refused(site: LocalServer) -> None:
    guarded = SafeFetcher(allow_private=False, timeout_seconds=3)
    for url in (site.url("/"), "http://169.254.169.254/", f"http://2130706433:{site.port}/"):
        collected = WebsiteCollector().collect(target(website=url), guarded)
        ((retrieval, facts),) = collected.retrievals
        assert retrieval.error is not None and retrieval.error.startswith("refused"), url
        assert facts == []
    assert site.seen == []


def test_the_collector_applies_only_to_locations_with_a_website() -> None:
    assert WebsiteCollector().applies_to(target(website="https://www.example.com/"))
    assert not WebsiteCollector().applies_to(target(website=None))
    assert not WebsiteCollector().applies_to(target(website="  "))
