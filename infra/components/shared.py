"""The compute-independent layers, as one value a compute shape builds on.

It lives here, below both the program (``infra.stack``, which builds it) and
the compute components (which read it), so neither imports the other's module.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.components.access_logs import AccessLogBucket
from infra.components.cache import Cache
from infra.components.database import Database
from infra.components.identity import Identity
from infra.components.network import Network
from infra.components.registry import Registry
from infra.components.secrets import Secrets


@dataclass(frozen=True)
class SharedLayers:
    """The compute-independent components a compute shape builds on."""

    network: Network
    registry: Registry
    secrets: Secrets
    database: Database
    cache: Cache
    access_logs: AccessLogBucket | None = None
    """The ALB access-log bucket (``albAccessLogs``), in both shapes (INVARIANT C1)."""
    identity: Identity | None = None
    """The Cognito pool issuing the service's JWTs (``authCognito``), in both shapes (C1)."""
