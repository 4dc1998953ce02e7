"""The Lambda compute shape: the service image as a Lambda function behind an HTTP API.

One ComponentResource (``service``) holds everything the shape adds on top of
the shared layers, built in named steps, one module per concern:

- ``security``: the function's and the proxy's security groups, and the rules
  that let the function reach the proxy and the cache and the proxy reach the
  database;
- ``proxy``: the RDS Proxy between the function and PostgreSQL, with its
  credentials secret and role;
- ``function``: the function's role and the serving function (the
  Dockerfile's ``lambda`` target, pinned by digest), from the builder both
  functions share;
- ``release``: the migrate function, the migrate-on-deploy invocation and the
  ``live`` alias;
- ``api``: the HTTP API with its ``$default`` route and stage, and the custom
  domain.

Switching a stack to ``compute: fargate`` deletes exactly this component; the
data layers keep their URNs (INVARIANT C1).

Deploy order, so new code never serves a request before its migrations ran:
the serving function and the migrate function (same image, longer timeout)
publish new versions → the migrate event is invoked on the migrate function's
version (again whenever the image or the serving version changes) → only then
does the ``live`` alias, which the API invokes, move to the new serving version.

The documents (environment, IAM policies, log format) come from the pure
functions in ``infra.documents.serverless``; this package only wires Outputs to them.
"""

from __future__ import annotations

from infra.components.serverless.proxy import (
    DATABASE_USER,
    PROXY_BORROW_TIMEOUT_SECONDS,
    PROXY_IDLE_CLIENT_TIMEOUT_SECONDS,
    PROXY_MAX_CONNECTIONS_PERCENT,
    PROXY_MAX_IDLE_CONNECTIONS_PERCENT,
)
from infra.components.serverless.security import (
    HTTPS_PORT,
    POSTGRES_PORT,
    REDIS_PORT,
    WORLD_IPV4,
)
from infra.components.serverless.service import (
    COMPONENT_TYPE,
    ServerlessService,
    build_serverless,
)
from infra.components.serverless.settings import ServerlessServiceArgs, ServerlessSettings

__all__ = [
    "COMPONENT_TYPE",
    "DATABASE_USER",
    "HTTPS_PORT",
    "POSTGRES_PORT",
    "PROXY_BORROW_TIMEOUT_SECONDS",
    "PROXY_IDLE_CLIENT_TIMEOUT_SECONDS",
    "PROXY_MAX_CONNECTIONS_PERCENT",
    "PROXY_MAX_IDLE_CONNECTIONS_PERCENT",
    "REDIS_PORT",
    "WORLD_IPV4",
    "ServerlessService",
    "ServerlessServiceArgs",
    "ServerlessSettings",
    "build_serverless",
]
