"""Routes that skip FastAPI's dependency solving: the hottest reads.

FastAPI works out each request's inputs generically (every dependency, every parameter
group, the body), which costs a card metadata read about 45 % of its time in the app
(measured: ``solve_dependencies`` and ``request_params_to_args`` per request), and a card
listing with its eight query parameters more. A route whose inputs are path and query
parameters, the ``Request`` and at most the access guard needs none of that machinery:
:class:`DirectRoute` checks the guard, validates the parameters with the very fields FastAPI
built for them (the same defaults, the same 422 messages, repeated query parameters for list
types) and calls the endpoint. The route is still an ``APIRoute``: OpenAPI, the route audit
(:func:`declared_access`) and the exception handlers see it as before.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response, params
from fastapi._compat import field_annotation_is_sequence, get_missing_field_error
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import Json
from pydantic_core import PydanticUndefined as Undefined

from opsml.server._authz import declared_access

__all__ = ["DirectRoute", "direct_get"]

Endpoint = TypeVar("Endpoint", bound=Callable[..., Coroutine[Any, Any, Response]])


class _Param:
    """One path or query parameter of a :class:`DirectRoute`, read as FastAPI reads it."""

    __slots__ = ("alias", "default", "field", "loc", "name", "required", "sequence", "source")

    def __init__(self, field: Any, source: str) -> None:
        info = field.field_info
        if not isinstance(info, params.Param) or any(type(m) is Json for m in info.metadata):
            raise TypeError(f"parameter {field.name!r}: not a plain path or query parameter")
        if info.validation_alias is not None and info.validation_alias != field.alias:
            raise TypeError(f"parameter {field.name!r}: validation aliases are not supported")
        self.name: str = field.name
        self.alias: str = field.alias
        self.field = field
        self.source = source
        self.loc = (source, field.alias)
        self.sequence = source == "query" and field_annotation_is_sequence(info.annotation)
        self.required = info.is_required()
        # a default FastAPI validates is validated on each use, as FastAPI does
        self.default = Undefined if info.validate_default else field.default

    def read(self, request: Request, values: dict[str, Any], errors: list[Any]) -> None:
        """Validate this parameter of ``request`` into ``values`` (or its errors)."""
        if self.source == "path":
            value: Any = request.path_params.get(self.alias)
        elif self.sequence:
            value = request.query_params.getlist(self.alias) or None
        else:
            value = request.query_params.get(self.alias)
        if value is None:
            if self.required:
                errors.append(get_missing_field_error(loc=self.loc))
                return
            if self.default is not Undefined:
                values[self.name] = copy.deepcopy(self.default)
                return
            value = copy.deepcopy(self.field.default)
        value, problems = self.field.validate(value, values, loc=self.loc)
        if problems:
            errors.extend(problems)
        else:
            values[self.name] = value


class DirectRoute(APIRoute):
    """An ``APIRoute`` for an async endpoint taking only path and query parameters and the
    ``Request``, guarded by at most one :func:`~opsml.server._authz.access` dependency and
    returning a ``Response``; anything else is refused when the route is built."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The request handler: guard, parameters, endpoint, in FastAPI's order (the
        guard's 401/403 before a parameter's 422)."""
        dependant = self.dependant
        guard = declared_access(self)
        request_name = dependant.request_param_name
        if (
            dependant.header_params
            or dependant.cookie_params
            or dependant.body_params
            or len(dependant.dependencies) != (0 if guard is None else 1)
            or request_name is None
            or not inspect.iscoroutinefunction(self.endpoint)
        ):
            raise TypeError(
                f"{self.path}: a DirectRoute takes an async endpoint with path and query "
                "parameters and the Request only"
            )
        fields = [_Param(field, "path") for field in dependant.path_params]
        fields += [_Param(field, "query") for field in dependant.query_params]
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            if guard is not None:
                await guard(request, request.headers.get("authorization"))
            values: dict[str, Any] = {}
            errors: list[Any] = []
            for param in fields:
                param.read(request, values, errors)
            if errors:
                raise RequestValidationError(errors)
            values[request_name] = request
            response = await endpoint(**values)
            if not isinstance(response, Response):
                raise TypeError(f"{self.path}: a DirectRoute's endpoint returns a Response")
            return response

        return handler


def direct_get(router: APIRouter, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
    """``@router.get(path, **options)`` as a :class:`DirectRoute`."""

    def register(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(
            path, endpoint, methods=["GET"], route_class_override=DirectRoute, **options
        )
        return endpoint

    return register
