"""`tenantry tenants|locations|customers show|edit` as an operator runs them: the ETag printed
by `show` guards `edit`, personal data stays masked unless revealed, bad input is one line on
stderr with exit 1 (a malformed option: exit 2)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from tenantry.cli.main import main
from tenantry.composition import open_database
from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.models import Customer
from tests.conftest import TenantFixture, make_tenant


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def env(settings: Settings, server) -> Iterator[None]:
    """The command's environment: the tests' home and server (run in this process)."""
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("TENANTRY_")]:
            mp.delenv(key)
        mp.setenv("TENANTRY_HOME", str(settings.home))
        if settings.database_url is not None:
            mp.setenv("TENANTRY_DATABASE_URL", settings.database_url.get_secret_value())
        if settings.app_password is not None:
            mp.setenv("TENANTRY_APP_PASSWORD", settings.app_password.get_secret_value())
        mp.setenv("COLUMNS", "200")
        yield


@pytest.fixture(scope="module")
def cli_db(env: None, settings: Settings) -> Iterator[Database]:
    """The database the command works on (the configured one, not the tests' own)."""
    db = open_database(settings, migrate=True)
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def tenant(cli_db: Database) -> TenantFixture:
    return make_tenant(cli_db)


@pytest.fixture
def tenantry(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    def run(*args: str) -> Run:
        code = main(list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def _customer(db: Database, tenant: TenantFixture) -> str:
    with db.tenant_uow(tenant.id) as uow:
        c = uow.repos.customers.add(
            Customer(
                first_name="Erika",
                last_name="Mustermann",
                email="erika.cli@example.org",
                phone="+49 30 1234567",
                city="Musterstadt",
                language="de",
            )
        )
        uow.commit()
        return str(c.id)


def test_customers_show_masks_and_edit_is_guarded_by_the_etag(
    tenantry: Callable[..., Run], cli_db: Database, tenant: TenantFixture
) -> None:
    cid = _customer(cli_db, tenant)
    shown = tenantry(
        "customers", "show", "--tenant", tenant.slug, "--customer", cid, "--format", "json"
    )
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["email"] == "e***@example.org" and data["last_name"] == "M***"
    assert "Mustermann" not in shown.stdout and "1234567" not in shown.stdout
    etag = data["etag"]
    edited = tenantry(
        "customers",
        "edit",
        "--tenant",
        tenant.slug,
        "--customer",
        cid,
        "--set",
        "city=Hamburg",
        "--set",
        'tags=["vip"]',
        "--if-match",
        etag,
    )
    assert edited.returncode == 0, edited.stderr
    assert "city, tags" in edited.stdout and "Hamburg" not in edited.stdout
    stale = tenantry(
        "customers",
        "edit",
        "--tenant",
        tenant.slug,
        "--customer",
        cid,
        "--set",
        "city=Bremen",
        "--if-match",
        etag,
    )
    assert stale.returncode == 1 and len(stale.stderr.strip().splitlines()) == 1
    assert "changed since it was read" in stale.stderr
    revealed = tenantry(
        "customers",
        "show",
        "--tenant",
        tenant.slug,
        "--customer",
        cid,
        "--reveal",
        "--format",
        "json",
    )
    after = json.loads(revealed.stdout)
    assert after["city"] == "Hamburg" and after["tags"] == ["vip"]
    assert after["email"] == "erika.cli@example.org" and after["etag"] != etag


def test_bad_edits_are_one_line_and_nothing_changes(
    tenantry: Callable[..., Run], cli_db: Database, tenant: TenantFixture
) -> None:
    cid = _customer(cli_db, tenant)
    base = ["customers", "edit", "--tenant", tenant.slug, "--customer", cid]
    for sets, words in (
        (["first_seen_at=2020-01-01"], "read-only"),
        (["bogus=1"], "bogus"),
        (["country=germany"], "country"),
        ([], "nothing to change"),
    ):
        args = [a for s in sets for a in ("--set", s)]
        r = tenantry(*base, *args)
        assert r.returncode == 1, (sets, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, r.stderr
    usage = tenantry(*base, "--set", "no equals sign")
    assert usage.returncode == 2 and "field=value" in usage.stderr
    assert tenantry(*base, "--set", "city=X", "--if-match", "abc").returncode == 2


def test_tenants_and_locations_show_and_edit(
    tenantry: Callable[..., Run], tenant: TenantFixture
) -> None:
    shown = tenantry("tenants", "show", "--tenant", tenant.slug)
    assert shown.returncode == 0, shown.stderr
    etag = shown.stdout.strip().splitlines()[-1].removeprefix("ETag: ")
    r = tenantry(
        "tenants",
        "edit",
        "--tenant",
        tenant.slug,
        "--set",
        "display_name=Musterbetrieb",
        "--set",
        "plan=professional",
        "--if-match",
        etag,
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(
        tenantry("tenants", "show", "--tenant", tenant.slug, "--format", "json").stdout
    )
    assert (data["display_name"], data["plan"]) == ("Musterbetrieb", "professional")
    assert tenantry("tenants", "edit", "--tenant", tenant.slug, "--set", "slug=x").returncode == 1
    listed = tenantry("locations", "list", "--tenant", tenant.slug, "--format", "json")
    assert {x["slug"] for x in json.loads(listed.stdout)} == {"loc-0", "loc-1"}
    r = tenantry(
        "locations",
        "edit",
        "--tenant",
        tenant.slug,
        "--location",
        "loc-1",
        "--set",
        "name=Filiale Nord",
        "--set",
        "capacity=40",
    )
    assert r.returncode == 0, r.stderr
    loc = json.loads(
        tenantry(
            "locations",
            "show",
            "--tenant",
            tenant.slug,
            "--location",
            "loc-1",
            "--format",
            "json",
        ).stdout
    )
    assert (loc["name"], loc["capacity"]) == ("Filiale Nord", 40)
    taken = tenantry(
        "locations",
        "edit",
        "--tenant",
        tenant.slug,
        "--location",
        "loc-1",
        "--set",
        "slug=loc-0",
    )
    assert taken.returncode == 1 and len(taken.stderr.strip().splitlines()) == 1


def test_an_unknown_timezone_is_refused_so_the_dashboard_keeps_working(
    tenantry: Callable[..., Run], tenant: TenantFixture
) -> None:
    for zone in ("Mars/Olympus", "Europe/../../etc/passwd"):
        refused = tenantry("tenants", "edit", "--tenant", tenant.slug, "--set", f"timezone={zone}")
        assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1
        assert "timezone" in refused.stderr
        location = str(tenant.locations[0])
        refused = tenantry(
            "locations", "edit", "--tenant", tenant.slug, "--location", location,
            "--set", f"timezone={zone}",
        )  # fmt: skip
        assert refused.returncode == 1 and "timezone" in refused.stderr
    shown = tenantry("dashboard", "leads", "--tenant", tenant.slug, "--format", "json")
    assert shown.returncode == 0, shown.stderr


def test_an_argument_that_is_not_utf8_is_a_usage_error_not_an_internal_one(
    tenantry: Callable[..., Run], tenant: TenantFixture
) -> None:
    # A byte that is not UTF-8 in argv reaches Python as a lone surrogate.
    bad = b"erika\xff@example.org".decode("utf-8", "surrogateescape")
    ran = tenantry("customers", "search", "--tenant", tenant.slug, "--email", bad)
    assert ran.returncode == 2 and len(ran.stderr.strip().splitlines()) == 1
    assert "not valid text" in ran.stderr and "internal error" not in ran.stderr
