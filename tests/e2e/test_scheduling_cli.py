"""`tenantry hours`, `tenantry resources` and `tenantry availability` as an operator runs them."""

from __future__ import annotations

import json

from tenantry.composition import open_database
from tenantry.config import Settings
from tenantry.models import Service
from tests.cli_support import call
from tests.conftest import make_tenant
from tests.e2e.test_cli import env, run  # noqa: F401  (the module's environment fixture)


def test_an_operator_sets_up_a_workshop_and_sees_its_free_slots(
    env: dict[str, str],  # noqa: F811
    settings: Settings,
) -> None:
    db = open_database(settings, migrate=True)  # the database the command uses
    try:
        t = make_tenant(db)
        with db.tenant_uow(t.id) as uow:
            service = uow.repos.services.add(
                Service(kind="workshop_service", name="TÜV", price_cents=9900, duration_minutes=60)
            )
            uow.commit()
    finally:
        db.dispose()
    loc = str(t.locations[0])
    run(env, "hours", "set", "--tenant", t.slug, "--location", "loc-0",
        "--interval", "mon=08:00-12:00", "--interval", "mon=13:00-17:00")  # fmt: skip
    shown = json.loads(call(env, "hours", "show", "--tenant", t.slug, "--location", loc,
                           "--format", "json").stdout)  # fmt: skip
    assert shown == [
        {"weekday": 1, "opens": "08:00", "closes": "12:00"},
        {"weekday": 1, "opens": "13:00", "closes": "17:00"},
    ]
    lift = run(env, "resources", "add", "--tenant", t.slug, "--location", loc,
               "--kind", "lift", "--name", "Lift 1").stdout.strip()  # fmt: skip
    call(env, "resources", "require", "--tenant", t.slug, "--service", str(service.id),
        "--need", "lift=1", "--buffer-after", "30")  # fmt: skip
    listed = json.loads(
        call(env, "resources", "list", "--tenant", t.slug, "--format", "json").stdout
    )
    assert [r["id"] for r in listed] == [lift]
    call(env, "hours", "close", "--tenant", t.slug, "--location", loc, "--date", "2027-03-08")
    slots = json.loads(
        run(env, "availability", "--tenant", t.slug, "--location", loc,
            "--service", str(service.id), "--from", "2027-03-01T00:00+01:00",
            "--to", "2027-03-09T00:00+01:00", "--format", "json").stdout
    )  # fmt: skip
    starts = [s["starts_at"] for s in slots]
    # Monday 1 March only (8 March is closed): 60 minutes plus a 30-minute buffer.
    assert starts[0] == "2027-03-01T07:00:00+00:00"
    assert all(s.startswith("2027-03-01") for s in starts)
    assert "2027-03-01T10:00:00+00:00" in starts  # 11:00-12:00 local (the buffer may pass 12:00)
    assert "2027-03-01T10:15:00+00:00" not in starts  # would run past 12:00 local
    assert slots[0]["resource_ids"] == [lift]


def test_bad_scheduling_input_is_one_line_and_a_failure(env: dict[str, str]) -> None:  # noqa: F811
    bad = call(env, "hours", "set", "--tenant", "x", "--location", "y",
              "--interval", "mon=25:00-26:00x", ok=False)  # fmt: skip
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    t = "00000000-0000-7000-8000-000000000000"
    far = call(env, "availability", "--tenant", t, "--location", t, "--service", t,
              "--from", "2027-01-01T00:00Z", "--to", "2037-01-01T00:00", ok=False)  # fmt: skip
    assert far.returncode == 2 and "timezone" in far.stderr
