"""The access-log bucket policy (infra/policies/access_logs.py): B18.

Every case breaks one real resource of a mocked stack and expects the policy to
name it and the fix (tests/infra/policies/helpers.py runs it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from pulumi_policy import PolicyResource

from infra.policies import access_logs
from infra.policies.resource_types import (
    T_LOAD_BALANCER,
    T_S3_ENCRYPTION,
    T_S3_LIFECYCLE,
    T_S3_OWNERSHIP,
    T_S3_POLICY,
    T_S3_PUBLIC_ACCESS,
)
from tests.infra.conftest import BuildStack
from tests.infra.policies.helpers import (
    PF,
    Bad,
    assert_reported,
    drop_dependency,
    on_props,
)

BUCKET = "access-logs-bucket"


def _bucket_policy(change: Callable[[list[dict[str, Any]]], None]) -> Callable[[Any], None]:
    """A stack-policy mutation that edits the statements of a bucket policy's outputs."""

    def mutate(resource: PolicyResource) -> None:
        props: Any = resource.props
        document = json.loads(props["policy"])
        change(document["Statement"])
        props["policy"] = json.dumps(document)

    return mutate


def _allow(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return next(item for item in statements if item["Effect"] == "Allow")


BAD: tuple[Bad, ...] = (
    Bad(
        "access-log-bucket",
        PF,
        T_S3_PUBLIC_ACCESS,
        "public-access",
        on_props(lambda p: p.update(restrictPublicBuckets=False)),
        ("public access",),
        reports=BUCKET,
    ),
    Bad(
        "access-log-bucket",
        PF,
        T_S3_ENCRYPTION,
        "encryption",
        on_props(
            lambda p: p["rules"][0]["applyServerSideEncryptionByDefault"].update(
                sseAlgorithm="aws:kms"
            )
        ),
        ("SSE-S3 only",),
        reports=BUCKET,
    ),
    Bad(
        "access-log-bucket",
        PF,
        T_S3_OWNERSHIP,
        "ownership",
        on_props(lambda p: p["rule"].update(objectOwnership="ObjectWriter")),
        ("ACLs",),
        reports=BUCKET,
    ),
    Bad(
        "access-log-bucket",
        PF,
        T_S3_LIFECYCLE,
        "lifecycle",
        on_props(lambda p: p["rules"][0].update(status="Disabled")),
        ("never expire",),
        reports=BUCKET,
    ),
    Bad(
        "access-log-bucket",
        PF,
        T_S3_POLICY,
        "policy",
        _bucket_policy(lambda st: _allow(st).update(Principal={"AWS": "*"})),
        ("not the region's ELB",),
        reports=BUCKET,
    ),
    Bad(
        "access-log-bucket",
        PF,
        T_S3_POLICY,
        "policy",
        _bucket_policy(
            lambda st: _allow(st).update(Resource=_allow(st)["Resource"].split("/")[0] + "/*")
        ),
        ("outside the load balancer's prefix",),
        reports=BUCKET,
    ),
    Bad(
        "access-log-bucket",
        PF,
        T_S3_POLICY,
        "policy",
        _bucket_policy(lambda st: st.__setitem__(slice(None), [_allow(st)])),
        ("without TLS",),
        reports=BUCKET,
    ),
    Bad(
        "access-log-bucket",
        PF,
        T_LOAD_BALANCER,
        "alb",
        drop_dependency(T_S3_POLICY),
        ("depend on its log bucket's policy",),
    ),
)


@pytest.mark.parametrize("bad", BAD, ids=[bad.id for bad in BAD])
def test_policy_reports_a_bad_resource(build_stack: BuildStack, bad: Bad) -> None:
    """Each broken resource is reported, by name, with the fix."""
    assert_reported(build_stack, bad)


def test_every_policy_has_a_negative_case() -> None:
    """At least one deliberately bad resource per policy of access_logs.py."""
    assert {bad.policy for bad in BAD} == {spec.name for spec in access_logs.SPECS}
