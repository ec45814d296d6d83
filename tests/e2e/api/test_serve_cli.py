"""`tenantry apikeys` and `tenantry serve` end to end: a key made by the CLI opens the API
served by uvicorn in a subprocess, and stops working once revoked."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tenantry.composition import open_database
from tenantry.config import Settings
from tenantry.models.enums import Vertical
from tenantry.services.platform import create_tenant

EXE = Path(sys.executable).with_name("tenantry")


@pytest.fixture(scope="module")
def env(settings: Settings, server) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    e["TENANTRY_HOME"] = str(settings.home)
    if settings.database_url is not None:
        e["TENANTRY_DATABASE_URL"] = settings.database_url.get_secret_value()
    if settings.app_password is not None:
        e["TENANTRY_APP_PASSWORD"] = settings.app_password.get_secret_value()
    e["TENANTRY_API_KEY_CACHE_SECONDS"] = "0"
    e["TENANTRY_API_LOG_LEVEL"] = "WARNING"
    return e


def run(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(EXE), *args], env=env, capture_output=True, text=True, timeout=300)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def slug(env: dict[str, str]) -> str:
    run(env, "db", "upgrade")
    settings = Settings(
        home=Path(env["TENANTRY_HOME"]), database_url=env.get("TENANTRY_DATABASE_URL")
    )
    db = open_database(settings)
    name = f"api-{uuid.uuid4().hex[:8]}"
    with db.platform_uow() as uow:
        create_tenant(uow, slug=name, legal_name="API Test GmbH", vertical=Vertical.WORKSHOP)
        uow.commit()
    db.dispose()
    return name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert proc.poll() is None, "tenantry serve exited"
        assert time.monotonic() < deadline, "tenantry serve did not become ready"
        time.sleep(0.2)


def _serve(env: dict[str, str], *args: str) -> tuple[subprocess.Popen[bytes], int, str]:
    """Start `tenantry serve` on a free port; the process, the port and its base URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [str(EXE), "serve", "--port", str(port), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, port, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def base_url(env: dict[str, str], slug: str) -> Iterator[str]:
    proc, _port, url = _serve(env)
    try:
        _wait_ready(url, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_key_is_printed_once_and_listed_without_its_secret(env: dict[str, str], slug: str) -> None:
    created = run(env, "apikeys", "create", "--tenant", slug, "--role", "analyst", "--name", "ci")
    secret = created.stdout.strip()
    assert secret.startswith("tnry_") and len(secret) > 40
    listed = run(env, "apikeys", "list", "--tenant", slug).stdout
    assert "analyst" in listed and secret[:12] in listed and secret not in listed


def test_bad_role_is_one_line_on_stderr(env: dict[str, str], slug: str) -> None:
    proc = run(env, "apikeys", "create", "--tenant", slug, "--role", "emperor", ok=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Invalid value for '--role'" in proc.stderr


def test_serve_says_where_it_listens(env: dict[str, str], slug: str) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [str(EXE), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_ready(f"http://127.0.0.1:{port}", proc)
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    assert f"listening on http://127.0.0.1:{port} (1 worker)" in err.splitlines()


def test_served_api_accepts_a_cli_key_until_it_is_revoked(
    env: dict[str, str], slug: str, base_url: str
) -> None:
    created = run(env, "apikeys", "create", "--tenant", slug, "--role", "staff")
    secret = created.stdout.strip()
    key_id = created.stderr.split()[2]
    headers = {"X-API-Key": secret}
    assert httpx.get(f"{base_url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{base_url}/v1/leads", headers=headers).status_code == 200
    run(env, "apikeys", "revoke", key_id)
    refused = httpx.get(f"{base_url}/v1/leads", headers=headers)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"


def _workers(proc: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """The live worker processes of `tenantry serve` (not multiprocessing's helper)."""
    live = []
    for child in psutil.Process(proc.pid).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(
                child.cmdline()
            ):
                live.append(child)
        except psutil.Error:  # ended meanwhile
            continue
    return live


def test_workers_share_connections_replace_a_dead_worker_and_stop_together(
    env: dict[str, str], slug: str
) -> None:
    proc, port, url = _serve(env, "--workers", "2")
    try:
        _wait_ready(url, proc)
        workers = _workers(proc)
        assert len(workers) == 2
        # Each worker listens on a socket of its own (SO_REUSEPORT), not on one inherited,
        # once its app has started (readiness above needs only one of them).
        deadline = time.monotonic() + 60
        while True:
            listening = {
                os.readlink(f"/proc/{w.pid}/fd/{c.fd}")
                for w in workers
                for c in w.net_connections("tcp")
                if c.status == psutil.CONN_LISTEN and c.laddr.port == port
            }
            if len(listening) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert len(listening) == 2, listening
        # Opened at once, kept open: each worker accepts some (one shared socket would let
        # the first worker to wake take most of them).
        sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(32)]
        try:
            for s in sockets:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                assert b" 200 " in s.recv(200)
            held = [
                sum(
                    1
                    for c in w.net_connections("tcp")
                    if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
                )
                for w in workers
            ]
            assert sum(held) == 32 and min(held) >= 4, held
        finally:
            for s in sockets:
                s.close()
        workers[0].kill()  # a crashed worker is replaced; the other keeps serving meanwhile
        deadline = time.monotonic() + 60
        while {w.pid for w in _workers(proc)} & {workers[0].pid} or len(_workers(proc)) < 2:
            assert time.monotonic() < deadline, "the dead worker was not replaced"
            time.sleep(0.2)
        _wait_ready(url, proc)
        survivors = _workers(proc)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    assert proc.returncode == 0
    assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in survivors)


def test_workers_on_a_taken_port_is_one_line_on_stderr(env: dict[str, str], slug: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run(env, "serve", "--port", str(port), "--workers", "2", ok=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in proc.stderr
