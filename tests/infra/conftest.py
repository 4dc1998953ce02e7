"""Fixtures for the infrastructure tests: the mocks harness in one line.

``build_stack("prod", compute="lambda", azCount=2)`` runs the real Pulumi
program under mocks (see tests/infra/harness.py) and returns a ``StackResult``
to query: ``find(type)``, ``one(type, name_suffix)``, ``outputs``, ``config``,
and per resource its inputs, outputs, parent and resource options.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.infra import harness
from tests.infra.harness import StackResult

BuildStack = Callable[..., StackResult]

STACKS = ("dev", "prod")
COMPUTES = ("fargate", "lambda")
VARIANTS = [(stack, compute) for stack in STACKS for compute in COMPUTES]


@pytest.fixture(scope="session")
def build_stack() -> BuildStack:
    """Build (once per argument set) and return a mocked stack."""
    return harness.build_stack


@pytest.fixture(scope="session", params=VARIANTS, ids=[f"{s}-{c}" for s, c in VARIANTS])
def variant(request: pytest.FixtureRequest) -> StackResult:
    """Each stack variant: dev/prod x fargate/lambda."""
    stack, compute = request.param
    return harness.build_stack(stack, compute=compute)


@pytest.fixture(scope="session", params=STACKS)
def env_stack(request: pytest.FixtureRequest) -> StackResult:
    """dev and prod with the compute shape their stack files choose."""
    return harness.build_stack(request.param)
