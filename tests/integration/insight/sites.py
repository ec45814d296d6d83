"""A local website for checks: real HTTP on 127.0.0.1, pages the test can change and break.

`Site.pages` maps a path to (status, content type, body, extra headers); `Site.slow` paths drip
their body; everything else is 404. Used by the flow tests of the visibility check.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOME = b"""<!doctype html><html lang="de"><head>
<title>Trattoria Esempio - Berlin</title>
<meta name="description" content="Italienische Kueche in Berlin-Mitte">
<meta name="viewport" content="width=device-width, initial-scale=1">
<script type="application/ld+json">
{"@context": "https://schema.org", "@type": "Restaurant", "name": "Trattoria Esempio",
 "telephone": "+49 30 1234567", "openingHours": "Mo-Sa 12:00-23:00",
 "founder": {"@type": "Person", "name": "Erika Mustermann"}}
</script></head><body>
<a href="/speisekarte">Speisekarte</a> <a href="/reservierung">Tisch reservieren</a>
<a href="https://www.facebook.com/example">Facebook</a>
<a href="/impressum">Impressum</a> <a href="tel:+49301234567">Anrufen</a>
</body></html>"""

IMPRINT = b"""<!doctype html><html><body><h1>Impressum</h1>
<p>Inhaber: Erika Mustermann</p><p>Beispielstrasse 1, 10115 Berlin</p></body></html>"""


@dataclass
class Site:
    port: int = 0
    pages: dict[str, tuple[int, str, bytes, dict[str, str]]] = field(default_factory=dict)
    slow: set[str] = field(default_factory=set)
    hits: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def page(
        self, path: str, body: bytes, *, status: int = 200, ctype: str = "text/html; charset=utf-8"
    ) -> None:
        self.pages[path] = (status, ctype, body, {})

    def redirect(self, path: str, location: str) -> None:
        self.pages[path] = (302, "text/plain", b"", {"Location": location})


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            site.hits += 1
            path = self.path.split("?")[0]
            if path in site.slow:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                try:
                    for _ in range(60):
                        self.wfile.write(b"<")
                        self.wfile.flush()
                        time.sleep(0.5)
                except OSError:
                    pass
                return
            status, ctype, body, headers = site.pages.get(path, (404, "text/plain", b"no", {}))
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def serve_site() -> Iterator[Site]:
    site = Site()
    site.page("/", HOME)
    site.page("/impressum", IMPRINT)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    server.daemon_threads = True
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
