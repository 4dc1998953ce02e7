"""Custom domain with managed TLS (issue 8, item 1), for dev and prod x fargate and lambda.

ACM's validation record and API Gateway's regional target are computed by AWS;
the shared mocks (infra/tooling/mocks.py) do not fill them, so these builds run with
``DomainMocks``, which adds exactly those outputs and nothing else.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pulumi
import pytest

from infra.components.domain import ALIAS_TYPE, CERTIFICATE_TYPE
from infra.tooling import mocks
from tests.infra import harness, test_switch
from tests.infra.conftest import VARIANTS, BuildStack
from tests.infra.harness import ACCOUNT_ID, REGION, StackResult, build_stack_uncached

CERTIFICATE = "aws:acm/certificate:Certificate"
VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
RECORD = "aws:route53/record:Record"
API_DOMAIN = "aws:apigatewayv2/domainName:DomainName"
API_MAPPING = "aws:apigatewayv2/apiMapping:ApiMapping"
LISTENER = "aws:lb/listener:Listener"
DOMAIN = "api.example.com"
ZONE = "Z0123456789ABCDEFGHIJ"
API_GATEWAY_ZONE = "ZLY8HYME6SFDD"
DOMAIN_TYPES = (CERTIFICATE, VALIDATION, RECORD, API_DOMAIN, API_MAPPING)
IDS = [f"{stack}-{compute}" for stack, compute in VARIANTS]


def _hex(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


class DomainMocks(mocks.RecordingMocks):
    """The shared mocks plus what ACM, Route 53 and API Gateway compute for a domain."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        """Add the computed outputs of certificates, records and API domain names."""
        resource_id, state = super().new_resource(args)
        inputs = args.inputs
        if args.typ == CERTIFICATE:
            domain = inputs["domainName"]
            token = _hex(domain)
            state["arn"] = f"arn:aws:acm:{REGION}:{ACCOUNT_ID}:certificate/{token}"
            state["domainValidationOptions"] = [
                {
                    "domainName": domain,
                    "resourceRecordName": f"_{token}.{domain}.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": f"_{token[::-1]}.acm-validations.aws.",
                }
            ]
        elif args.typ == RECORD:
            state["fqdn"] = str(inputs["name"]).rstrip(".")
        elif args.typ == API_DOMAIN:
            configuration = dict(inputs["domainNameConfiguration"])
            configuration.update(
                targetDomainName=f"d-{_hex(args.name)[:10]}.execute-api.{REGION}.amazonaws.com",
                hostedZoneId=API_GATEWAY_ZONE,
            )
            state["domainNameConfiguration"] = configuration
            resource_id = inputs["domainName"]
        return resource_id, state


@contextmanager
def domain_mocks() -> Iterator[None]:
    """Run builds with ``DomainMocks`` in place of the shared mocks."""
    with mock.patch.object(mocks, "RecordingMocks", DomainMocks):
        yield


_CACHE: dict[str, StackResult] = {}


def with_domain(stack: str, compute: str, **overrides: object) -> StackResult:
    """``stack`` with a custom domain (built once per argument set)."""
    key = repr((stack, compute, sorted(overrides.items())))
    if key not in _CACHE:
        with domain_mocks():
            _CACHE[key] = build_stack_uncached(
                stack, compute, domainName=DOMAIN, hostedZoneId=ZONE, **overrides
            )
    return _CACHE[key]


def test_shared_mocks_lack_what_domain_mocks_add() -> None:
    """Why DomainMocks exists: without it, the certificate has no validation record."""
    with pytest.raises(mocks.HarnessError):
        build_stack_uncached("dev", "lambda", domainName=DOMAIN, hostedZoneId=ZONE)


@pytest.mark.parametrize(("stack", "compute"), VARIANTS, ids=IDS)
def test_without_a_domain_nothing_of_it_exists(
    build_stack: BuildStack, stack: str, compute: str
) -> None:
    """Item 1: no domainName, no certificate, record, API domain or alias; URL unchanged."""
    result = build_stack(stack, compute=compute)
    for type_ in (*DOMAIN_TYPES, CERTIFICATE_TYPE, ALIAS_TYPE):
        assert not result.find(type_), type_
    assert not result.outputs["url"].startswith(f"https://{DOMAIN}")


@pytest.mark.parametrize(("stack", "compute"), VARIANTS, ids=IDS)
def test_with_a_domain_the_certificate_is_validated_in_the_zone(stack: str, compute: str) -> None:
    """Item 1: a DNS-validated certificate, its record in the zone, and the wait for issuance."""
    # prod's stack file sets a certificateArn placeholder; drop it to get a managed one.
    result = with_domain(stack, compute, certificateArn=None)
    certificate = result.one(CERTIFICATE)
    assert certificate.inputs["domainName"] == DOMAIN
    assert certificate.inputs["validationMethod"] == "DNS"
    option = certificate.outputs["domainValidationOptions"][0]
    validation_record = result.one(RECORD, "-validation-record")
    assert validation_record.inputs["zoneId"] == ZONE
    assert validation_record.inputs["name"] == option["resourceRecordName"]
    assert validation_record.inputs["type"] == "CNAME"
    assert validation_record.inputs["records"] == [option["resourceRecordValue"]]
    validation = result.one(VALIDATION)
    assert validation.inputs["certificateArn"] == certificate.outputs["arn"]
    assert validation.inputs["validationRecordFqdns"] == [validation_record.outputs["fqdn"]]
    assert result.outputs["url"] == f"https://{DOMAIN}"
    # Both components exist, outside the compute component.
    assert result.parent_of(result.one(CERTIFICATE_TYPE)) is None
    assert result.parent_of(result.one(ALIAS_TYPE)) is None


@pytest.mark.parametrize(("stack", "compute"), VARIANTS, ids=IDS)
def test_the_alias_points_at_the_compute_endpoint(stack: str, compute: str) -> None:
    """Item 1: A alias to the ALB (fargate) or the API's regional domain name (lambda)."""
    result = with_domain(stack, compute, certificateArn=None)
    alias = result.one(RECORD, "domain-alias-record")
    assert alias.inputs["zoneId"] == ZONE
    assert alias.inputs["name"] == DOMAIN
    assert alias.inputs["type"] == "A"
    assert alias.delete_before_replace
    (target,) = alias.inputs["aliases"]
    validated_arn = result.one(VALIDATION).outputs["certificateArn"]
    if compute == "fargate":
        alb = result.one("aws:lb/loadBalancer:LoadBalancer")
        assert target["name"] == alb.outputs["dnsName"]
        assert target["zoneId"] == alb.outputs["zoneId"]
        https = result.one(LISTENER, "-https")
        assert https.inputs["certificateArn"] == validated_arn
        # Port 80 only redirects now that there is HTTPS (B12).
        redirect = result.one(LISTENER, "-http-redirect")
        assert redirect.inputs["defaultActions"][0]["type"] == "redirect"
        assert not result.find(API_DOMAIN)
    else:
        domain = result.one(API_DOMAIN)
        configuration = domain.inputs["domainNameConfiguration"]
        assert domain.inputs["domainName"] == DOMAIN
        assert configuration["certificateArn"] == validated_arn
        assert configuration["endpointType"] == "REGIONAL"
        assert configuration["securityPolicy"] == "TLS_1_2"
        assert domain.delete_before_replace
        outputs = domain.outputs["domainNameConfiguration"]
        assert target["name"] == outputs["targetDomainName"]
        assert target["zoneId"] == outputs["hostedZoneId"]
        mapping = result.one(API_MAPPING)
        assert mapping.inputs["apiId"] == result.one("aws:apigatewayv2/api:Api").id
        assert mapping.inputs["domainName"] == domain.id
        assert mapping.inputs["stage"] == result.one("aws:apigatewayv2/stage:Stage").id


@pytest.mark.parametrize("compute", ["fargate", "lambda"])
def test_an_explicit_certificate_arn_still_wins(compute: str) -> None:
    """Item 1: with certificateArn set, no certificate is issued and that ARN is served."""
    arn = f"arn:aws:acm:{REGION}:{ACCOUNT_ID}:certificate/11111111-2222-3333-4444-555555555555"
    result = with_domain("dev", compute, certificateArn=arn)
    assert not result.find(CERTIFICATE)
    assert not result.find(VALIDATION)
    assert not result.find(CERTIFICATE_TYPE)
    assert result.one(RECORD, "domain-alias-record")
    if compute == "fargate":
        assert result.one(LISTENER, "-https").inputs["certificateArn"] == arn
    else:
        assert result.one(API_DOMAIN).inputs["domainNameConfiguration"]["certificateArn"] == arn
    assert result.outputs["url"] == f"https://{DOMAIN}"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_c1_a_compute_switch_keeps_the_certificate_and_updates_the_alias(stack: str) -> None:
    """Item 1 / C1: certificate and alias keep their URNs; only the alias target changes."""
    fargate = with_domain(stack, "fargate", certificateArn=None)
    serverless = with_domain(stack, "lambda", certificateArn=None)

    def domain_records(result: StackResult) -> dict[str, Any]:
        return {
            r.urn: r
            for r in result.resources
            if r.type in (CERTIFICATE_TYPE, ALIAS_TYPE)
            or any(p.type in (CERTIFICATE_TYPE, ALIAS_TYPE) for p in result.ancestors(r))
        }

    before, after = domain_records(fargate), domain_records(serverless)
    assert set(before) == set(after)
    assert len(before) == 6  # two components, certificate, validation record and wait, alias
    changed = {
        before[urn].name: set(test_switch.input_changes(before[urn], after[urn])) - {"tags"}
        for urn in before
    }
    assert changed.pop("domain-alias-record") == {"aliases"}
    assert all(not keys for keys in changed.values()), changed
    # And the data layer is exactly the one without a domain.
    plain = harness.build_stack(stack, compute="fargate")
    assert set(test_switch.shared(fargate)) == set(test_switch.shared(plain))


def test_dev_with_a_domain_serves_https_without_allow_http() -> None:
    """A managed certificate is enough for HTTPS: allowHttp may be false."""
    result = with_domain("dev", "fargate", allowHttp=False)
    assert result.one(LISTENER, "-https").inputs["protocol"] == "HTTPS"
    ports = {
        r.inputs["fromPort"]
        for r in result.find("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if "alb-in" in r.name
    }
    assert ports == {80, 443}
