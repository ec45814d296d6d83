"""SafeFetcher against real sockets on 127.0.0.1: the SSRF guard, pinning, redirects, the
deadline, the size limit, and that no secret reaches a Retrieval's uri or error."""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import quote

import pytest

from tenantry.config import Settings
from tenantry.insight.http import SafeFetcher, address_problem, redact_url
from tenantry.models.enums import EvidenceSource
from tests.insight_support.server import LocalServer, Reply, Seen, json_reply, local_server
from tests.insight_support.tls import tls_contexts

WEB = EvidenceSource.WEBSITE


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with local_server() as s:
        s.route("GET", "/", Reply(body=b"<html><title>hello</title></html>"))
        yield s


def open_fetcher(**kw: object) -> SafeFetcher:
    return SafeFetcher(allow_private=True, timeout_seconds=3, **kw)  # type: ignore[arg-type]


def guarded(**kw: object) -> SafeFetcher:
    return SafeFetcher(allow_private=False, timeout_seconds=3, **kw)  # type: ignore[arg-type]


def get(fetcher: SafeFetcher, url: str, **kw: object):  # type: ignore[no-untyped-def]
    return fetcher.get(url, collector="test", source=WEB, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/file",
        "gopher://example.com/",
        "javascript:alert(1)",
        "http:///no-host",
        "http://user:hunter2@example.com/",
        "http://example.com/" + "a" * 2001,
        "http://[not-an-address/",
        "",
    ],
)
def test_urls_that_are_not_plain_http_are_refused_without_an_exception(url: str) -> None:
    r = get(guarded(), url)
    assert r.error and r.status_code is None and r.body == b""
    assert "hunter2" not in r.uri and len(r.uri) <= 2000


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{port}/",
        "http://localhost:{port}/",
        "http://127.1:{port}/",
        "http://2130706433:{port}/",  # 127.0.0.1 as one decimal number
        "http://0x7f.1:{port}/",  # ... in hex
        "http://0x7f000001:{port}/",
        "http://[::1]:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://0.0.0.0:{port}/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "https://127.0.0.1:{port}/",
    ],
)
def test_private_loopback_and_metadata_addresses_are_refused(
    server: LocalServer, template: str
) -> None:
    r = get(guarded(), template.format(port=server.port))
    assert r.error is not None and r.error.startswith("refused: "), r.error
    assert "private networks are not collected" in r.error
    assert r.status_code is None
    assert server.seen == []  # refused before connecting


def test_the_metadata_address_is_named_as_such() -> None:
    r = get(guarded(), "http://169.254.169.254/latest/meta-data/")
    assert r.error == (
        "refused: 169.254.169.254 is the cloud metadata address "
        "(private networks are not collected)"
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433", "0x7f.1", "127.1"])
def test_the_same_server_is_reached_when_private_networks_are_allowed(
    server: LocalServer, host: str
) -> None:
    r = get(open_fetcher(), server.url("/", host=host))
    assert r.ok and r.status_code == 200 and b"hello" in r.body
    assert len(server.seen) == 1


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("93.184.215.14", None),
        ("2606:2800:220:1::", None),
        ("8.8.8.8", None),
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("100.100.0.1", "shared (CGNAT)"),
        ("169.254.169.254", "the cloud metadata address"),
        ("169.254.1.1", "link-local"),
        ("239.1.1.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),  # noqa: S104
        ("::", "unspecified"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
        ("fe80::1%eth0", "link-local"),
        ("192.0.2.1", "private"),  # documentation range
    ],
)
def test_address_problem_names_what_is_wrong(address: str, problem: str | None) -> None:
    found = address_problem(address)
    assert (found is None) if problem is None else (found is not None and found.endswith(problem))


def test_a_host_is_refused_if_any_of_its_addresses_is_private() -> None:
    def resolver(host: str, port: int) -> Sequence[str]:
        return ["93.184.215.14", "10.0.0.7"]

    r = get(guarded(resolver=resolver), "http://shop.example.com/")
    assert r.error is not None and "10.0.0.7 is private" in r.error


def test_the_connection_goes_to_the_vetted_address_whatever_dns_says_later(
    server: LocalServer,
) -> None:
    answers = [["127.0.0.1"], ["10.0.0.1"]]
    calls: list[str] = []

    def rebinding(host: str, port: int) -> Sequence[str]:
        calls.append(host)
        return answers[min(len(calls), len(answers)) - 1]

    fetcher = guarded(resolver=rebinding, allowed_networks=["127.0.0.1/32"])
    r = get(fetcher, f"http://shop.example.com:{server.port}/")
    assert r.ok and b"hello" in r.body
    assert calls == ["shop.example.com"]  # resolved once: the connection used that answer
    assert server.seen[0].headers["host"] == f"shop.example.com:{server.port}"
    again = get(fetcher, f"http://shop.example.com:{server.port}/")
    assert again.error is not None and "10.0.0.1 is private" in again.error
    assert len(server.seen) == 1


def test_the_next_vetted_address_is_tried_when_one_does_not_answer(server: LocalServer) -> None:
    def two(host: str, port: int) -> Sequence[str]:
        return ["127.0.0.2", "127.0.0.1"]  # the server listens on the second only

    r = get(open_fetcher(resolver=two), f"http://shop.example.com:{server.port}/")
    assert r.ok and b"hello" in r.body


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/admin",
        "http://127.0.0.2:{port}/",
        "http://[::1]:{port}/",
        "http://2130706434:{port}/",  # 127.0.0.2 as one decimal number
    ],
)
def test_a_redirect_to_a_private_address_is_refused(server: LocalServer, location: str) -> None:
    server.route("GET", "/go", Reply(302, headers={"Location": location.format(port=server.port)}))
    fetcher = guarded(allowed_networks=["127.0.0.1/32"])
    r = get(fetcher, server.url("/go"))
    assert r.error is not None and r.error.startswith("redirect refused: "), r.error
    assert [s.path for s in server.seen] == ["/go"]


def test_redirects_are_followed_and_the_final_url_is_recorded(server: LocalServer) -> None:
    server.route("GET", "/old", Reply(301, headers={"Location": "/new"}))
    server.route("GET", "/new", Reply(body=b"moved here"))
    r = get(open_fetcher(), server.url("/old"))
    assert r.ok and r.body == b"moved here" and r.uri == server.url("/new")


def test_credentials_do_not_follow_a_redirect_to_another_origin(server: LocalServer) -> None:
    with local_server() as other:
        other.route("GET", "/landing", Reply(body=b"other"))
        server.route("GET", "/same", Reply(302, headers={"Location": "/"}))
        server.route("GET", "/away", Reply(302, headers={"Location": other.url("/landing")}))
        auth = {"Authorization": "Bearer tok-123", "Accept": "application/json"}
        assert get(open_fetcher(), server.url("/same"), headers=auth).ok
        assert server.requests("/")[0].headers["authorization"] == "Bearer tok-123"
        assert get(open_fetcher(), server.url("/away"), headers=auth).ok
        landed = other.requests("/landing")[0]
        assert "authorization" not in landed.headers
        assert landed.headers["accept"] == "application/json"


def test_query_parameters_are_not_carried_into_a_redirect(server: LocalServer) -> None:
    server.route("GET", "/api", Reply(302, headers={"Location": "/moved"}))
    server.route("GET", "/moved", Reply(body=b"ok"))
    r = get(open_fetcher(), server.url("/api"), params={"access_token": "tok-abc"})
    assert r.ok
    assert server.requests("/api")[0].query == {"access_token": ["tok-abc"]}
    assert server.requests("/moved")[0].query == {}


def test_a_redirect_loop_ends_after_max_redirects(server: LocalServer) -> None:
    server.route("GET", "/a", Reply(302, headers={"Location": "/b"}))
    server.route("GET", "/b", Reply(302, headers={"Location": "/a"}))
    r = get(open_fetcher(max_redirects=3), server.url("/a"))
    assert r.error == "too many redirects (more than 3)"
    assert len(server.seen) == 4


def _drip_body(seen: Seen, h: BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Length", "1000")
    h.end_headers()
    for _ in range(40):
        h.wfile.write(b"x")
        h.wfile.flush()
        time.sleep(0.25)


def _drip_headers(seen: Seen, h: BaseHTTPRequestHandler) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nX-Padding: " + b"y" * 40:
        h.wfile.write(bytes([byte]))
        h.wfile.flush()
        time.sleep(0.2)


def _silent(seen: Seen, h: BaseHTTPRequestHandler) -> None:
    time.sleep(8)


@pytest.mark.parametrize("writer", [_drip_body, _drip_headers, _silent])
def test_a_slow_server_cannot_outlast_the_deadline(server: LocalServer, writer: object) -> None:
    server.route("GET", "/slow", writer, raw=True)  # type: ignore[arg-type]
    started = time.monotonic()
    r = get(SafeFetcher(allow_private=True, timeout_seconds=1.2), server.url("/slow"))
    took = time.monotonic() - started
    assert r.error == "timed out after 1.2 s"
    assert 1.0 <= took < 3.0, took  # the deadline, plus slack for a busy machine


def test_a_slow_resolver_cannot_outlast_the_deadline() -> None:
    def slow(host: str, port: int) -> Sequence[str]:
        time.sleep(5)
        return ["93.184.215.14"]

    started = time.monotonic()
    r = get(SafeFetcher(timeout_seconds=0.5, resolver=slow), "http://shop.example.com/")
    assert r.error == "timed out after 0.5 s" and time.monotonic() - started < 2.5


def _huge(seen: Seen, h: BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.send_header("Content-Length", str(50_000_000))
    h.end_headers()
    chunk = b"<p>" + b"z" * 65_530 + b"</p>"
    for _ in range(50_000_000 // len(chunk)):
        h.wfile.write(chunk)


def test_a_huge_response_is_cut_at_max_bytes(server: LocalServer) -> None:
    server.route("GET", "/huge", _huge, raw=True)
    started = time.monotonic()
    r = get(open_fetcher(max_bytes=100_000), server.url("/huge"))
    assert r.ok and r.truncated and len(r.body) == 100_000
    assert time.monotonic() - started < 5


def test_a_body_of_exactly_max_bytes_is_not_marked_truncated(server: LocalServer) -> None:
    server.route("GET", "/exact", Reply(body=b"e" * 2048))
    r = get(open_fetcher(max_bytes=2048), server.url("/exact"))
    assert r.ok and not r.truncated and len(r.body) == 2048


def test_binary_content_is_kept_as_bytes_and_hashed(server: LocalServer) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
    server.route("GET", "/logo.png", Reply(body=png, content_type="image/png"))
    r = get(open_fetcher(), server.url("/logo.png"))
    assert r.ok and r.body == png and r.content_type == "image/png"
    assert r.sha256 == hashlib.sha256(png).hexdigest()


def test_a_non_2xx_response_keeps_its_body_and_names_the_status(server: LocalServer) -> None:
    r = get(open_fetcher(), server.url("/missing"))
    assert r.error == "HTTP 404" and r.status_code == 404 and r.body == b"not found"


def test_a_closed_port_is_a_connection_failure() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = get(open_fetcher(), f"http://127.0.0.1:{port}/")
    assert r.error is not None and r.error.startswith("connection failed")


def test_an_unresolvable_host_is_an_error() -> None:
    def nowhere(host: str, port: int) -> Sequence[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    r = get(guarded(resolver=nowhere), "http://nowhere.example.com/")
    assert r.error == "could not resolve host"


def test_tokens_and_keys_never_reach_the_uri(server: LocalServer) -> None:
    server.route("GET", "/page", json_reply({"id": "1"}))
    r = get(open_fetcher(), server.url("/page"), params={"access_token": "tok-1", "fields": "id"})
    assert r.ok and "tok-1" not in r.uri and "fields=id" in r.uri
    assert server.seen[0].query["access_token"] == ["tok-1"]
    shown = get(
        open_fetcher(),
        server.url("/page"),
        params={"access_token": "tok-2"},
        shown_uri="https://graph.example.com/page",
    )
    assert shown.uri == "https://graph.example.com/page"
    assert redact_url("https://u:pw@example.com/x?key=k1&q=1&client_secret=s") == (
        "https://example.com/x?q=1"
    )


def test_post_form_and_post_json_are_sent_and_guarded(server: LocalServer) -> None:
    server.route("POST", "/token", json_reply({"access_token": "new"}))
    r = open_fetcher().post_form(
        server.url("/token"), {"grant_type": "refresh_token"}, collector="t", source=WEB
    )
    assert r.ok and server.seen[-1].form() == {"grant_type": ["refresh_token"]}
    j = open_fetcher().post_json(
        server.url("/token"), {"a": [1, 2]}, collector="t", source=WEB, headers={"X-K": "v"}
    )
    assert j.ok and server.seen[-1].json() == {"a": [1, 2]}
    assert server.seen[-1].headers["content-type"] == "application/json"
    assert server.seen[-1].headers["x-k"] == "v"
    refused = guarded().post_form("http://169.254.169.254/token", {}, collector="t", source=WEB)
    assert refused.error is not None and refused.error.startswith("refused")


def test_a_post_is_not_redirected(server: LocalServer) -> None:
    server.route("POST", "/token", Reply(307, headers={"Location": "/elsewhere"}))
    r = open_fetcher().post_form(server.url("/token"), {"a": "b"}, collector="t", source=WEB)
    assert r.error == "HTTP 307: redirect of a POST not followed"
    assert [s.path for s in server.seen] == ["/token"]


def test_retrieval_time_comes_from_the_clock(server: LocalServer) -> None:
    instant = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    r = get(open_fetcher(clock=lambda: instant), server.url("/"))
    assert r.retrieved_at == instant and r.elapsed_ms >= 0
    assert get(open_fetcher(), server.url("/")).retrieved_at.tzinfo is not None


def test_https_is_verified_against_the_real_name_while_pinned(tmp_path: Path) -> None:
    server_ctx, client_ctx = tls_contexts("shop.example.com", tmp_path)
    with local_server(tls=server_ctx) as tls_server:
        tls_server.route("GET", "/", Reply(body=b"secure"))
        fetcher = open_fetcher(ssl_context=client_ctx, resolver=lambda host, port: ["127.0.0.1"])
        r = get(fetcher, tls_server.url("/", host="shop.example.com"))
        assert r.ok and r.body == b"secure" and r.uri.startswith("https://shop.example.com:")
        wrong = get(fetcher, tls_server.url("/", host="other.example.com"))
        assert wrong.error is not None and wrong.error.startswith("connection failed")


def test_from_settings_takes_the_collect_settings() -> None:
    s = Settings(
        collect_allow_private_networks=True,
        collect_timeout_seconds=2.5,
        collect_max_bytes=4096,
        collect_max_redirects=2,
        collect_user_agent="probe/1",
    )
    f = SafeFetcher.from_settings(s)
    assert (f.allow_private, f.timeout_seconds, f.max_bytes, f.max_redirects, f.user_agent) == (
        True,
        2.5,
        4096,
        2,
        "probe/1",
    )


def test_a_secret_echoed_by_the_server_is_blanked_out_of_the_body(server: LocalServer) -> None:
    def echo(seen: Seen) -> Reply:
        token = seen.query["access_token"][0]
        key = seen.headers["x-goog-api-key"]
        link = f"https://graph.example.com/next?access_token={quote(token, safe='')}"
        return json_reply({"paging": {"next": link}, "token": token, "key": key})

    server.route("GET", "/echo", echo)
    token, key = "EAA/test+token=1", "AIzaTestKey-0001"
    r = get(
        open_fetcher(),
        server.url("/echo"),
        params={"access_token": token},
        headers={"X-Goog-Api-Key": key},
    )
    assert r.ok and b"[redacted]" in r.body
    for secret in (token, quote(token, safe=""), key):
        assert secret.encode() not in r.body
