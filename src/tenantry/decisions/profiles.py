"""User profiles for decisions: the subject and consent from the database, the segments and
features from the lake, cached in the serving process.

`LakeProfileSource.profile(uow, user_id)` answers for a member of the unit of work's tenant:
its data subject and whether that subject has active `personalisation` consent are read from
the database on every call (`privacy.members`, the rule ingestion uses; once a user's subject
is known, one statement checks the membership, the subject and the consent), so a consent
withdrawal or an erasure stops personalization with the next request. The lake part (the
latest `segments` row, `dim_user`'s communication preferences and the latest
`ml_user_features.preferred_comm_tone`) comes from `LakeFeatureCache`: per tenant, a dict by
pseudonym (`user_key`) loaded with DuckDB from the Delta tables' current files
(`lake_tables`: where the tables are, the latest snapshot of each user, their versions). The cache
never reads the disk for a request once a tenant is loaded: `poll()` compares the Delta
versions of the pipeline's run log and of the three tables (one small log listing each) and
reloads the cached tenants once a pipeline run has finished publishing (or the lake erasure
has rewritten a table); `start()` runs `poll()` in a thread every `interval` seconds (one
second by default).

A user without consent gets an empty context: nothing of the lake is used for them. This
module reads only; it writes neither the database nor the lake.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from tenantry.db.uow import UnitOfWork
from tenantry.decisions.context import COMM_PREFS, ONB_DAY_BUCKETS, PERSONAS, Context, Profile
from tenantry.decisions.lake_tables import USER_TABLES, LakeTables, TableVersions
from tenantry.lake.vocabulary import TONES
from tenantry.models.enums import ConsentPurpose
from tenantry.privacy.members import LinkChangedError, MemberSubject, MemberSubjects

__all__ = ["Fetch", "LakeFeatureCache", "LakeFeatures", "LakeProfileSource", "comm_prefs_of"]

_log = logging.getLogger("tenantry.decisions.profiles")
_ENGAGEMENT = ("low", "medium", "high")


@dataclass(frozen=True, slots=True)
class LakeFeatures:
    """What the lake knows of one user; None where it has nothing (or nothing valid)."""

    persona: str | None = None
    onb_day: str | None = None
    engagement_level: str | None = None
    comm_prefs: str | None = None
    preferred_comm_tone: str | None = None

    def context(self) -> Context:
        return Context(persona=self.persona, comm_prefs=self.comm_prefs, onb_day=self.onb_day)


def comm_prefs_of(prefs: str | None) -> str | None:
    """`dim_user.communication_prefs` (the JSON object of the onboarding events) as the
    context's "tone/address"; None unless both are present and known."""
    if not prefs:
        return None
    try:
        value = json.loads(prefs)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    text = f"{value.get('tone')}/{value.get('address')}"
    return text if text in COMM_PREFS else None


def _known(value: object, allowed: tuple[str, ...]) -> str | None:
    return value if isinstance(value, str) and value in allowed else None


_SEGMENT_COLUMNS = ("persona_current", "onb_day_bucket", "engagement_level")
_TONE = ("preferred_comm_tone",)
_PREFS = ("communication_prefs",)


class LakeFeatureCache:
    """Per tenant: pseudonym -> `LakeFeatures`, from the lake under `home`.

    `features(tenant)` loads a tenant on its first use and then answers from memory. `poll()`
    reloads every cached tenant when the lake has published since the last load (see there);
    `start()`/`stop()` run it in a daemon thread every `interval` seconds. At most
    `max_tenants` tenants stay cached (the least recently loaded goes first).
    """

    def __init__(
        self,
        home: Path,
        *,
        interval: float = 1.0,
        settle: float = 10.0,
        max_tenants: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.home = home
        self.interval = interval
        self.settle = settle
        self.max_tenants = max_tenants
        self._clock = clock
        self._tenants: dict[uuid.UUID, Mapping[str, LakeFeatures]] = {}
        self._versions: tuple[int, ...] | None = None
        self._pending_since: float | None = None
        self._table_versions = TableVersions(home, USER_TABLES)
        self._lock = threading.Lock()  # one load or poll at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.loads = 0  # tenant loads so far (tests and metrics)

    # -- versions ------------------------------------------------------------------------

    def versions(self) -> tuple[int, ...]:
        """The current Delta version of the pipeline's run log and of each table (-1: none
        yet; `lake_tables.TableVersions`)."""
        return self._table_versions.current()

    # -- loading -------------------------------------------------------------------------

    def _load(self, tenant_id: uuid.UUID) -> Mapping[str, LakeFeatures]:
        with LakeTables(self.home, USER_TABLES) as lake:
            segments = lake.latest("segments", tenant_id, _SEGMENT_COLUMNS)
            tones = {k: v for k, (v,) in lake.latest("ml_user_features", tenant_id, _TONE).items()}
            prefs = {k: v for k, (v,) in lake.rows("dim_user", tenant_id, _PREFS).items()}
        self.loads += 1
        out: dict[str, LakeFeatures] = {}
        for key in segments.keys() | tones.keys() | prefs.keys():
            persona, bucket, engagement = segments.get(key, (None, None, None))
            out[key] = LakeFeatures(
                persona=_known(persona, PERSONAS),
                onb_day=_known(bucket, ONB_DAY_BUCKETS),
                engagement_level=_known(engagement, _ENGAGEMENT),
                comm_prefs=comm_prefs_of(prefs.get(key)),
                preferred_comm_tone=_known(tones.get(key), TONES),
            )
        return MappingProxyType(out)

    def loaded(self, tenant_id: uuid.UUID) -> bool:
        """Whether the tenant's users are in memory (`features` answers without a load)."""
        return tenant_id in self._tenants

    def features(self, tenant_id: uuid.UUID) -> Mapping[str, LakeFeatures]:
        """The tenant's users by pseudonym (loaded now if the tenant is not cached)."""
        found = self._tenants.get(tenant_id)
        if found is not None:
            return found
        with self._lock:
            found = self._tenants.get(tenant_id)
            if found is None:
                if self._versions is None:
                    self._versions = self.versions()
                found = self._store(tenant_id, self._load(tenant_id))
        return found

    def _store(
        self, tenant_id: uuid.UUID, features: Mapping[str, LakeFeatures]
    ) -> Mapping[str, LakeFeatures]:
        tenants = dict(self._tenants)  # replaced, never changed: readers take no lock
        tenants.pop(tenant_id, None)
        while len(tenants) >= self.max_tenants:
            del tenants[next(iter(tenants))]
        tenants[tenant_id] = features
        self._tenants = tenants
        return features

    def poll(self) -> bool:
        """Reload the cached tenants if the lake has new versions since the last load; True
        if it did.

        A pipeline run publishes its tables one after another and then appends to its run
        log: a change the run log does not show yet is a run still publishing, so the reload
        waits for the run log, up to `settle` seconds (after which a change of the tables
        alone, such as a lake erasure, is loaded anyway). The versions are taken before the
        reads, so a publish during a reload is found by the next poll.
        """
        with self._lock:
            current = self.versions()
            if current == self._versions:
                self._pending_since = None
                return False
            run_logged = self._versions is None or current[0] != self._versions[0]
            if not run_logged:
                now = self._clock()
                if self._pending_since is None:
                    self._pending_since = now
                if now - self._pending_since < self.settle:
                    return False
            self._versions, self._pending_since = current, None
            for tenant_id in list(self._tenants):
                self._store(tenant_id, self._load(tenant_id))
            return True

    def forget(self, tenant_id: uuid.UUID) -> None:
        tenants = dict(self._tenants)
        tenants.pop(tenant_id, None)
        self._tenants = tenants

    # -- the refresher thread ------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None or self.interval <= 0:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="lake-features", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception:  # a broken lake must not stop the refresher; the cache serves on
                _log.exception("refreshing the lake features failed")


# Runs one tenant-bound, read-only statement (psycopg parameters) and returns its rows: the
# API's pipelined reader, bound to the caller's tenant.
Fetch = Callable[[str, Mapping[str, Any]], Awaitable[Sequence[Sequence[Any]]]]


class LakeProfileSource:
    """The `ProfileSource` of the serving process: the subject and its consent from the
    database on every call (`MemberSubjects`: one statement once the user's subject is
    known), the lake's segments and features from a `LakeFeatureCache`.

    `quick_profile` is the same answer without a unit of work, for a user whose subject is
    known: the one statement through `fetch` (the API's pipelined reader, on the event loop).
    """

    def __init__(self, lake: LakeFeatureCache, members: MemberSubjects | None = None) -> None:
        self.lake = lake
        self.members = members or MemberSubjects(ConsentPurpose.PERSONALISATION)

    def profile(self, uow: UnitOfWork, user_id: uuid.UUID) -> Profile:
        subject = self.members.find(uow, user_id)
        return self._profile(uow.require_tenant(), user_id, subject)

    async def quick_profile(
        self, fetch: Fetch, tenant_id: uuid.UUID, user_id: uuid.UUID
    ) -> Profile | None:
        """The profile from one statement when the user's subject is known and its lake rows
        are loaded; None: ask `profile` in a unit of work. NotFoundError for a non-member."""
        statement = self.members.check(tenant_id, user_id)
        if statement is None or not self.lake.loaded(tenant_id):
            return None
        rows = await fetch(*statement)
        try:
            subject = self.members.confirm(tenant_id, user_id, rows)
        except LinkChangedError:
            return None
        return self._profile(tenant_id, user_id, subject)

    def _profile(
        self, tenant_id: uuid.UUID, user_id: uuid.UUID, subject: MemberSubject | None
    ) -> Profile:
        if subject is None:
            return Profile(user_id=user_id, user_key=None, consents=False, context=Context())
        if not subject.consents:
            return Profile(
                user_id=user_id, user_key=subject.pseudonym, consents=False, context=Context()
            )
        lake = self.lake.features(tenant_id).get(subject.pseudonym)
        if lake is None:
            lake = LakeFeatures()
        return Profile(
            user_id=user_id,
            user_key=subject.pseudonym,
            consents=True,
            context=lake.context(),
            engagement_level=lake.engagement_level,
            preferred_comm_tone=lake.preferred_comm_tone,
        )
