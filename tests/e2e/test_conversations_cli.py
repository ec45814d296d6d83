"""`tenantry threads list|show` and `tenantry messages upkeep` as an operator runs them, on the
test session's server (the database the CLI is configured for)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from tenantry.composition import open_database
from tenantry.config import Settings
from tenantry.conversations.threads import open_thread, post_message
from tenantry.db.engine import Database
from tenantry.services.resources import create_customer
from tests.cli_support import call
from tests.conftest import TenantFixture, make_tenant
from tests.e2e.test_cli import env as env  # the CLI's environment (a fixture)
from tests.e2e.test_cli import run

BODY = "Mein Reifen ist platt"


@pytest.fixture(scope="module")
def cli_db(settings: Settings) -> Iterator[Database]:
    db = open_database(settings, migrate=True)  # as the CLI opens it
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def conversation(cli_db: Database) -> tuple[TenantFixture, uuid.UUID]:
    tenant = make_tenant(cli_db)
    owner = tenant.principal()
    with cli_db.tenant_uow(tenant.id) as uow:
        customer = create_customer(
            uow, owner, home_location_id=tenant.locations[0], first_name="Erika"
        )
        thread = open_thread(uow, owner, customer_id=customer.id, channel="sms", subject="Panne")
        post_message(uow, owner, thread.id, body=BODY, direction="inbound")
        uow.commit()
        return tenant, thread.id


def test_threads_list_and_show_mask_personal_data_unless_revealed(
    env: dict[str, str], conversation: tuple[TenantFixture, uuid.UUID]
) -> None:
    tenant, thread = conversation
    listed = json.loads(
        run(env, "threads", "list", "--tenant", tenant.slug, "--format", "json").stdout
    )
    assert [t["id"] for t in listed["threads"]] == [str(thread)]
    assert listed["threads"][0]["subject"] == "***"
    masked = call(env, "threads", "show", str(thread), "--tenant", tenant.slug)
    assert BODY not in masked.stdout and "***" in masked.stdout
    shown = json.loads(
        call(
            env, "threads", "show", str(thread), "--tenant", tenant.slug, "--reveal",
            "--format", "json",
        ).stdout
    )  # fmt: skip
    assert [m["body"] for m in shown["messages"]] == [BODY]
    assert shown["messages"][0]["storage"] == "chat" and shown["thread"]["subject"] == "Panne"
    missing = call(env, "threads", "show", str(uuid.uuid4()), "--tenant", tenant.slug, ok=False)
    assert missing.returncode == 1 and "not found" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_messages_upkeep_is_idempotent_and_refuses_a_bad_time(env: dict[str, str]) -> None:
    # Long ago: nothing is old enough to go, only the months from then on are created.
    args = ["messages", "upkeep", "--now", "2025-01-15T00:00:00Z", "--format", "json"]
    first = json.loads(run(env, *args).stdout)
    assert first["cutoff"].startswith("2024-10-17") and first["dropped"] == []
    again = json.loads(call(env, *args).stdout)
    assert again["partitions_created"] == 0 and again["default_partition_rows_deleted"] == 0
    bad = call(env, "messages", "upkeep", "--now", "yesterday", ok=False)
    assert bad.returncode == 2 and "--now" in bad.stderr
