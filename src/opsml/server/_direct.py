"""Routes that skip FastAPI's dependency solving: the hottest reads.

FastAPI works out each request's inputs generically (every dependency, every parameter
group, the body), which costs a card metadata read about 45 % of its time in the app
(measured: ``solve_dependencies`` and ``request_params_to_args`` per request). A route
whose inputs are path parameters, the ``Request`` and at most the access guard needs none of
that machinery: :class:`DirectRoute` checks the guard, validates the path parameters with
the very fields FastAPI built for them (the same 422 messages) and calls the endpoint. The
route is still an ``APIRoute``: OpenAPI, the route audit (:func:`declared_access`) and the
exception handlers see it as before.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from opsml.server._authz import declared_access

__all__ = ["DirectRoute", "direct_get"]

Endpoint = TypeVar("Endpoint", bound=Callable[..., Coroutine[Any, Any, Response]])


class DirectRoute(APIRoute):
    """An ``APIRoute`` for an async endpoint taking only path parameters and the
    ``Request``, guarded by at most one :func:`~opsml.server._authz.access` dependency and
    returning a ``Response``; anything else is refused when the route is built."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The request handler: guard, path parameters, endpoint, in FastAPI's order (the
        guard's 401/403 before a parameter's 422)."""
        dependant = self.dependant
        guard = declared_access(self)
        request_name = dependant.request_param_name
        if (
            dependant.query_params
            or dependant.header_params
            or dependant.cookie_params
            or dependant.body_params
            or len(dependant.dependencies) != (0 if guard is None else 1)
            or request_name is None
            or not inspect.iscoroutinefunction(self.endpoint)
        ):
            raise TypeError(
                f"{self.path}: a DirectRoute takes an async endpoint with path parameters "
                "and the Request only"
            )
        fields = [(field.name, field.alias, field) for field in dependant.path_params]
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            if guard is not None:
                await guard(request, request.headers.get("authorization"))
            values: dict[str, Any] = {}
            errors: list[Any] = []
            received = request.path_params
            for name, alias, field in fields:
                value, problems = field.validate(received.get(alias), values, loc=("path", alias))
                if problems:
                    errors.extend(problems)
                else:
                    values[name] = value
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
