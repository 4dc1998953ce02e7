"""Load-balancer policies (infra/policies/load_balancer.py): A14, B12.

Every case breaks one real resource of a mocked stack and expects the policy to
name it and the fix (tests/infra/policies/helpers.py runs it).
"""

from __future__ import annotations

import pytest

from infra.policies import load_balancer
from infra.policies.resource_types import (
    T_LISTENER,
    T_LOAD_BALANCER,
    T_TARGET_GROUP,
)
from tests.infra.conftest import BuildStack
from tests.infra.policies.helpers import (
    DF,
    PF,
    Bad,
    assert_reported,
    on_props,
    set_path,
)

BAD: tuple[Bad, ...] = (
    Bad(
        "load-balancer-name-length",
        DF,
        T_TARGET_GROUP,
        "tg",
        set_path("name", "x" * 33),
        ("at most 24",),
    ),
    Bad(
        "alb-hardening",
        DF,
        T_LOAD_BALANCER,
        "alb",
        set_path("dropInvalidHeaderFields", False),
        ("drop_invalid_header_fields",),
    ),
    Bad(
        "alb-hardening",
        DF,
        T_LOAD_BALANCER,
        "alb",
        set_path("desyncMitigationMode", "monitor"),
        ("defensive",),
    ),
    Bad(
        "alb-hardening",
        PF,
        T_LISTENER,
        "https",
        set_path("sslPolicy", "ELBSecurityPolicy-2016-08"),
        ("TLS13",),
    ),
    Bad(
        "https-redirects-http",
        PF,
        T_LISTENER,
        "http-redirect",
        on_props(set_path("defaultActions", [{"type": "forward", "targetGroupArn": "x"}])),
        ("redirect to HTTPS",),
    ),
)


@pytest.mark.parametrize("bad", BAD, ids=[bad.id for bad in BAD])
def test_policy_reports_a_bad_resource(build_stack: BuildStack, bad: Bad) -> None:
    """Each broken resource is reported, by name, with the fix."""
    assert_reported(build_stack, bad)


def test_every_policy_has_a_negative_case() -> None:
    """At least one deliberately bad resource per policy of load_balancer.py."""
    assert {bad.policy for bad in BAD} == {spec.name for spec in load_balancer.SPECS}
