"""The unit of work: one transaction, one commit point, the tenant bound for its whole life.

Entering opens a session; every transaction it begins first runs
`set_config('tenantry.tenant_id', <tenant>, true)`, the function form of `SET LOCAL`, so the
binding ends with the transaction and a pooled connection can never carry a tenant into the
next one. Leaving without `commit()` rolls back. Driver errors raised inside the block come out
as tenantry errors. Repositories and services never commit; only the caller of `commit()` does.

Personal data is sealed and opened by a sealer (`tenantry.models.sealed.Sealer`) that the
composition root injects as a factory; this package knows the protocol only, never the keys.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from tenantry.clock import Clock
from tenantry.db.errors import translate_db_error
from tenantry.errors import ConfigurationError, TenantNotBoundError
from tenantry.ids import IdGenerator
from tenantry.models.sealed import SEALER_KEY, Sealer, has_pending_plaintext

if TYPE_CHECKING:
    from tenantry.repositories import Repositories

__all__ = ["SealerFactory", "UnitOfWork"]

# Builds the sealer of a unit of work as it is entered (the unit of work is its key source).
SealerFactory = Callable[["UnitOfWork"], Sealer]

_BIND_SQL = text(
    "SELECT set_config('tenantry.tenant_id', :tenant, true),"
    " set_config('tenantry.actor', :actor, true)"
)
_BINDING = "tenantry.binding"


def _bind(session: Session, _tx: SessionTransaction, connection: Any) -> None:
    """Bind the tenant (and actor) at the start of every transaction of a unit of work."""
    binding = session.info.get(_BINDING)
    if binding is not None:
        connection.execute(_BIND_SQL, binding)


def _seal(session: Session, _context: Any, _instances: Any) -> None:
    """Before every flush: seal staged personal data, or refuse to write it without keys."""
    sealer: Sealer | None = session.info.get(SEALER_KEY)
    if sealer is not None:
        sealer.seal_pending(session)
    elif any(has_pending_plaintext(obj) for obj in [*session.new, *session.dirty]):
        raise ConfigurationError("personal data can only be written with the master key")


# Factories that have the listeners. Not `event.contains`: SQLAlchemy's event registry is keyed
# by object ids, so a new factory can inherit the answer of a collected one at the same address.
_INSTALLED: weakref.WeakSet[sessionmaker[Session]] = weakref.WeakSet()
_INSTALL_LOCK = threading.Lock()


def _install_binding(factory: sessionmaker[Session]) -> None:
    # Listeners per session factory, not per session: registering an event listener
    # costs more than the query it precedes.
    if factory in _INSTALLED:
        return
    with _INSTALL_LOCK:
        if factory not in _INSTALLED:
            event.listen(factory, "after_begin", _bind)
            event.listen(factory, "before_flush", _seal)
            _INSTALLED.add(factory)


class UnitOfWork:
    """A transaction bound to (at most) one tenant, with the repositories that work inside it."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        tenant_id: uuid.UUID | None,
        actor: str | None,
        clock: Clock,
        ids: IdGenerator,
        sealer_factory: SealerFactory | None = None,
    ) -> None:
        self._factory = session_factory
        _install_binding(session_factory)
        self.tenant_id = tenant_id
        self.actor = actor
        self.clock = clock
        self.ids = ids
        self._sealer_factory = sealer_factory
        self._session: Session | None = None
        self._repos: Repositories | None = None
        self._sealer: Sealer | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("unit of work used outside its `with` block")
        return self._session

    @property
    def repos(self) -> Repositories:
        if self._repos is None:
            from tenantry.repositories import Repositories

            self._repos = Repositories(self)
        return self._repos

    @property
    def sealer(self) -> Sealer | None:
        """The sealer of this unit of work (None without a master key or outside `with`)."""
        return self._sealer

    def require_tenant(self) -> uuid.UUID:
        if self.tenant_id is None:
            raise TenantNotBoundError()
        return self.tenant_id

    def __enter__(self) -> UnitOfWork:
        self._session = self._factory()
        self._session.info[_BINDING] = {
            "tenant": str(self.tenant_id) if self.tenant_id else "",
            "actor": self.actor or "",
        }
        if self._sealer_factory is not None:
            self._sealer = self._sealer_factory(self)
            self._session.info[SEALER_KEY] = self._sealer
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() ends the open transaction with a rollback (uncommitted work is discarded)
        # and detaches loaded objects without expiring them, so results stay readable; their
        # personal data is opened first, while the keys can still be fetched.
        try:
            if exc is None and self._sealer is not None:
                self._sealer.open_loaded()
            self.session.close()
        finally:
            self._session = None
            self._repos = None
            self._sealer = None
        if isinstance(exc, DBAPIError):
            raise translate_db_error(exc) from exc

    def flush(self) -> None:
        """Send pending changes now, so constraint violations surface here."""
        try:
            self.session.flush()
        except DBAPIError as exc:
            self.session.rollback()  # the transaction is dead; leave the session usable
            raise translate_db_error(exc) from exc

    def commit(self) -> None:
        """The single commit point."""
        try:
            self.session.commit()
        except DBAPIError as exc:
            self.session.rollback()
            raise translate_db_error(exc) from exc

    def rollback(self) -> None:
        self.session.rollback()
