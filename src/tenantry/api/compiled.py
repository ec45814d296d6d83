"""`CompiledRoute`: an APIRoute that parses a well-formed request in one pydantic validation.

FastAPI solves an endpoint's parameters one at a time on every request: for each declared
path, query and header parameter it inspects the annotation again, looks the value up and
validates it through a validator of its own, and it walks the dependency tree to build cache
keys. On this API's read and capture endpoints that was an eighth to a fifth of a request's
CPU time (measured in one process: a page of 20 leads 1.47 -> 1.16 ms, one lead 0.72 -> 0.63).

A `CompiledRoute` does the same work once, when the route is built: the path, query and header
parameters become the fields of one pydantic model, validated in one call; a JSON body is
validated by its model in one call; dependencies that only take the request
(authentication) are awaited directly. A request that does not validate, or that needs
anything this plan does not cover, goes to FastAPI's own handler unchanged, so every error
response (422 field lists, malformed JSON, a missing body) is exactly FastAPI's, and only
requests that FastAPI would accept take the short way. Routes whose signature uses other
features (forms, cookies, parameters that are not single values, embedded bodies, background
tasks, a `Response` parameter, dependencies with parameters of their own, repeated or with a
concurrency limit, a return value that is not a `Response`) are not compiled at all.

The plan mirrors FastAPI internals (`fastapi.routing._effective_route_context_var`, the fields
of `Dependant`, `fastapi.telemetry`, starlette's body limit key). If one is missing when this
module loads, or a request meets one missing, `COMPILED` turns off (one warning) and every
route answers through FastAPI's own handler.
"""

from __future__ import annotations

import datetime
import decimal
import email.message
import enum
import functools
import inspect
import json
import types
import typing
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

import fastapi.routing
from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tenantry.fastpath import FastPath, missing

__all__ = ["COMPILED", "CompiledRoute", "RequestPlan"]

# Off when FastAPI's internals this plan mirrors are gone (checked here, once, and on the
# first request that meets a missing one): routes then use FastAPI's own handler.
COMPILED = FastPath("api.compiled", "fastapi")
try:
    from fastapi.telemetry import get_telemetry_data
    from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
except ImportError as _exc:
    COMPILED.off(str(_exc))
_DEPENDANT_NAMES = (
    "call",
    "dependencies",
    "path_params",
    "query_params",
    "header_params",
    "cookie_params",
    "body_params",
    "name",
    "request_param_name",
    "websocket_param_name",
    "http_connection_param_name",
    "response_param_name",
    "background_tasks_param_name",
    "security_scopes_param_name",
    "own_oauth_scopes",
)
_CONTEXT_VAR = "_effective_route_context_var"  # of fastapi.routing
_gone = missing(fastapi.routing, (_CONTEXT_VAR,)) + missing(Dependant, _DEPENDANT_NAMES)
if _gone:
    COMPILED.off(f"missing {', '.join(_gone)}")

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
# Parameter types the plan reads as FastAPI does: one value, validated as it is. Anything
# else (sequences, models, `Json[...]`, ...) FastAPI reads in ways of its own.
_SCALARS = (
    *(str, int, float, bool, uuid.UUID, datetime.datetime, datetime.date, decimal.Decimal),
    AwareDatetime,  # validated by the plan's model as by FastAPI's: the timezone is required
)


def _is_scalar(annotation: Any) -> bool:
    """A scalar, an enum, or either of them or None (constrained by `Annotated` or not: the
    plan's model validates with the whole annotation)."""
    if typing.get_origin(annotation) is Annotated:
        return _is_scalar(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return len(args) == 1 and _is_scalar(args[0])
    return isinstance(annotation, type) and (
        annotation in _SCALARS or issubclass(annotation, enum.Enum)
    )


@functools.lru_cache(maxsize=64)
def _is_json(content_type: str | None) -> bool:
    """Whether FastAPI reads a body of this content type as JSON (parsed as it parses it)."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


def _body_model(annotation: Any) -> tuple[type[BaseModel], bool] | None:
    """The body's model and whether it may be absent (`Model | None`); None if not a model."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if len(args) == 1 and len(typing.get_args(annotation)) == 2:
        inner = args[0]
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return inner, True
    return None


def _field(info: FieldInfo) -> tuple[Any, FieldInfo]:
    """A model field validating as a FastAPI parameter does: its type, constraints, default."""
    annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    if info.is_required():
        return annotation, Field()
    if info.default_factory is not None:
        return annotation, Field(default_factory=info.default_factory)
    return annotation, Field(default=info.default)


@dataclass(frozen=True)
class RequestPlan:
    """How to turn a request into an endpoint's arguments without FastAPI's solver."""

    call: Callable[..., Any]
    overrides: Any  # FastAPI's dependency overrides provider (the app), if any
    is_coroutine: bool
    params: type[BaseModel] | None  # path, query and header parameters as one model
    sources: tuple[tuple[str, str, str], ...]  # (where, request key, field of `params`)
    names: tuple[tuple[str, str], ...]  # (field of `params`, argument name)
    body: tuple[str, type[BaseModel], bool] | None  # (argument, model, may be absent)
    request_arg: str | None
    dependencies: tuple[tuple[str, str, Callable[..., Awaitable[Any]]], ...]  # (argument,
    # the dependency's request parameter, the dependency)

    @classmethod
    def compile(cls, route: APIRoute) -> RequestPlan | None:
        """The plan for a route, or None when it uses something the plan does not cover.

        `route` may also be FastAPI's view of a route as included in an app (with the
        inclusion's dependencies, prefix and dependency overrides): see `CompiledRoute`.
        """
        dependant = route.dependant
        if dependant is None:
            return None
        call = dependant.call
        if call is None or not cls._plain(dependant) or dependant.cookie_params:
            return None
        try:
            hints = typing.get_type_hints(call)
        except (NameError, TypeError):
            return None
        returns = hints.get("return")
        if not (isinstance(returns, type) and issubclass(returns, Response)):
            return None
        dependencies: list[tuple[str, str, Callable[..., Awaitable[Any]]]] = []
        calls = [sub.call for sub in dependant.dependencies]
        if len(set(map(id, calls))) != len(calls):  # FastAPI runs a repeated one once
            return None
        for sub in dependant.dependencies:
            if (
                not cls._request_only(sub)
                or sub.name is None
                or sub.call is None
                or sub.request_param_name is None
                or getattr(sub, "concurrency", None) is not None
            ):
                return None
            dependencies.append((sub.name, sub.request_param_name, sub.call))
        fields: dict[str, Any] = {}
        sources: list[tuple[str, str, str]] = []
        names: list[tuple[str, str]] = []
        for where, group in (
            ("path", dependant.path_params),
            ("query", dependant.query_params),
            ("header", dependant.header_params),
        ):
            for field in group:
                info = field.field_info
                if (
                    not _is_scalar(info.annotation)
                    or info.validation_alias not in (None, info.alias)
                    or info.validate_default
                ):
                    return None
                if where == "header" and info.alias is None:
                    return None  # FastAPI derives the header name from the argument's name
                # The model's fields are named p0, p1, ... (an argument may be called `json`
                # or `copy`, which a model cannot have).
                slot = f"p{len(fields)}"
                key = field.alias.lower() if where == "header" else field.alias
                fields[slot] = _field(info)
                sources.append((where, key, slot))
                names.append((slot, field.name))
        body: tuple[str, type[BaseModel], bool] | None = None
        if dependant.body_params:
            if len(dependant.body_params) != 1 or route.body_field is None:
                return None
            (field,) = dependant.body_params
            info = field.field_info
            if (
                isinstance(info, params.Form)
                or getattr(info, "embed", False)
                or getattr(route, "_embed_body_fields", False)
            ):
                return None
            model = _body_model(info.annotation)
            if model is None or (model[1] and (info.is_required() or info.default is not None)):
                return None
            body = (field.name, *model)
        model_cls: type[BaseModel] | None = None
        if fields:
            model_cls = create_model(
                f"{call.__name__}_params",
                __config__=ConfigDict(extra="ignore"),
                **fields,
            )
        return cls(
            call=call,
            overrides=route.dependency_overrides_provider,
            is_coroutine=inspect.iscoroutinefunction(call),
            params=model_cls,
            sources=tuple(sources),
            names=tuple(names),
            body=body,
            request_arg=dependant.request_param_name,
            dependencies=tuple(dependencies),
        )

    @staticmethod
    def _plain(dependant: Dependant) -> bool:
        """No parameter kinds the plan does not handle."""
        return (
            dependant.websocket_param_name is None
            and dependant.http_connection_param_name is None
            and dependant.response_param_name is None
            and dependant.background_tasks_param_name is None
            and dependant.security_scopes_param_name is None
            and not dependant.own_oauth_scopes
        )

    @classmethod
    def _request_only(cls, dependant: Dependant) -> bool:
        """An async dependency taking no parameter but (possibly) the request, as `_caller`.

        The caller checks that it does take the request (and narrows the types).
        """
        return (
            inspect.iscoroutinefunction(dependant.call)
            and cls._plain(dependant)
            and not dependant.dependencies
            and not dependant.path_params
            and not dependant.query_params
            and not dependant.header_params
            and not dependant.cookie_params
            and not dependant.body_params
        )

    async def arguments(self, request: Request) -> dict[str, Any] | None:
        """The endpoint's parameters (not its dependencies); None: let FastAPI handle it."""
        values: dict[str, Any] = {}
        if self.params is not None:
            raw: dict[str, Any] = {}
            path, query, headers = request.path_params, request.query_params, request.headers
            for where, key, slot in self.sources:
                source = path if where == "path" else query if where == "query" else headers
                value = source.get(key)
                if value is not None:
                    raw[slot] = value
            try:
                parsed = self.params.model_validate(raw).__dict__
            except ValidationError:
                return None
            for slot, name in self.names:
                values[name] = parsed[slot]
        if self.body is not None:
            name, model, optional = self.body
            if MAX_BODY_SIZE_SCOPE_KEY in request.scope:
                return None  # FastAPI maps a body over the limit to its own 413
            try:
                payload = await request.body()
            except Exception as exc:  # as FastAPI answers a body it cannot read
                raise HTTPException(400, "There was an error parsing the body") from exc
            if not payload:
                if not optional:
                    return None
                values[name] = None
            elif not _is_json(request.headers.get("content-type")):
                return None
            else:
                # As FastAPI reads it: `json.loads`, then validation in Python mode (JSON mode
                # reads some values differently: 13.0 as Decimal('13'), not Decimal('13.0')).
                try:
                    values[name] = model.model_validate(json.loads(payload))
                except (ValueError, ValidationError):  # JSONDecodeError is a ValueError
                    return None
        return values

    def handler(self, standard: Handler) -> Handler:
        """The route's request handler: the plan for valid requests, else `standard`."""

        async def app(request: Request) -> Response:
            if not COMPILED.on:
                return await standard(request)
            if getattr(self.overrides, "dependency_overrides", None):  # tests swap dependencies
                return await standard(request)
            try:
                if get_telemetry_data() is not None:  # FastAPI records its solver's values
                    return await standard(request)
                values = await self.arguments(request)
            except (AttributeError, NameError) as exc:  # an internal it reads is gone
                COMPILED.off(f"{type(exc).__name__}: {exc}")
                return await standard(request)
            if values is None:
                return await standard(request)
            for name, request_param, dependency in self.dependencies:
                values[name] = await dependency(**{request_param: request})
            if self.request_arg is not None:
                values[self.request_arg] = request
            if self.is_coroutine:
                response: Response = await self.call(**values)
            else:
                response = await run_in_threadpool(self.call, **values)
            return response

        return app


def _as_built(route: APIRoute) -> Any | None:
    """The route as FastAPI builds its handler right now; None if that cannot be told.

    Including a router in an app gives each route an effective view with the inclusion's
    dependencies, prefix and dependency-overrides provider (the app), and FastAPI builds the
    route's handler again under that view (a context variable of `fastapi.routing`). The plan
    must be made from the same view, or it would skip an inclusion's dependencies; on a
    FastAPI without that variable nothing is compiled.
    """
    effective = getattr(fastapi.routing, _CONTEXT_VAR, None)
    if effective is None:
        COMPILED.off(f"missing fastapi.routing.{_CONTEXT_VAR}")
        return None
    context = effective.get()
    if context is not None and getattr(context, "original_route", None) is route:
        return context
    return route


class CompiledRoute(APIRoute):
    """An APIRoute whose well-formed requests skip FastAPI's per-request solver."""

    def get_route_handler(self) -> Handler:
        standard = super().get_route_handler()
        if not COMPILED.on:
            return standard
        try:
            route = _as_built(self)
            plan = RequestPlan.compile(route) if route is not None else None
        except (AttributeError, NameError) as exc:  # FastAPI's view of a route changed
            COMPILED.off(f"{type(exc).__name__}: {exc}")
            return standard
        return standard if plan is None else plan.handler(standard)
