"""Custom domain: an ACM certificate validated through Route 53, and the alias record.

Both components are compute-independent: their logical names never depend on
the compute shape, so a compute switch keeps the certificate and updates the
alias record in place (from the load balancer to the API Gateway custom
domain, or back) instead of deleting and re-creating the name.

- ``DomainCertificate`` (built before compute, only when ``domainName`` is set
  and no ``certificateArn`` is): the certificate, its DNS validation record in
  the hosted zone, and the validation that waits until ACM issues it.
- ``DomainAlias`` (built after compute, whenever ``domainName`` is set): the
  ``A`` alias record pointing the domain at the compute shape's endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws

from infra.components import type_token

CERTIFICATE_TYPE: Final = type_token("domain", "DomainCertificate")
ALIAS_TYPE: Final = type_token("domain", "DomainAlias")
VALIDATION_RECORD_TTL_SECONDS: Final = 300


@dataclass(frozen=True)
class AliasTarget:
    """Where the domain points: a DNS name and its Route 53 hosted zone id."""

    dns_name: pulumi.Input[str]
    zone_id: pulumi.Input[str]


@dataclass(frozen=True)
class DomainArgs:
    """The custom domain and the hosted zone that serves it."""

    domain_name: str
    hosted_zone_id: str


class DomainCertificate(pulumi.ComponentResource):
    """An ACM certificate for the domain, DNS-validated in its hosted zone."""

    certificate_arn: pulumi.Output[str]
    """The ARN once ACM has issued the certificate (use it, not the request's ARN)."""

    def __init__(
        self, name: str, args: DomainArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Request the certificate, publish its validation record and wait for issuance."""
        super().__init__(CERTIFICATE_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        certificate = aws.acm.Certificate(
            f"{name}-certificate",
            domain_name=args.domain_name,
            validation_method="DNS",
            key_algorithm="RSA_2048",
            opts=child,
        )
        # One domain name, no alternative names: ACM asks for exactly one record.
        option = certificate.domain_validation_options.apply(lambda options: options[0])
        record = aws.route53.Record(
            f"{name}-validation-record",
            zone_id=args.hosted_zone_id,
            name=option.apply(lambda o: o.resource_record_name or ""),
            type=option.apply(lambda o: o.resource_record_type or "CNAME"),
            records=[option.apply(lambda o: o.resource_record_value or "")],
            ttl=VALIDATION_RECORD_TTL_SECONDS,
            # A re-requested certificate for the same name asks for the same
            # record: take it over instead of failing on "already exists".
            allow_overwrite=True,
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        validation = aws.acm.CertificateValidation(
            f"{name}-validation",
            certificate_arn=certificate.arn,
            validation_record_fqdns=[record.fqdn],
            opts=child,
        )
        self.certificate_arn = validation.certificate_arn
        self.register_outputs({"certificate_arn": self.certificate_arn})


@dataclass(frozen=True)
class DomainAliasArgs:
    """The domain, its zone, and the compute shape's endpoint to point at."""

    domain: DomainArgs
    target: AliasTarget


class DomainAlias(pulumi.ComponentResource):
    """The domain's ``A`` alias record (updated in place by a compute switch)."""

    fqdn: pulumi.Output[str]

    def __init__(
        self, name: str, args: DomainAliasArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Point ``domain_name`` at the target with a Route 53 alias."""
        super().__init__(ALIAS_TYPE, name, None, opts)
        record = aws.route53.Record(
            f"{name}-record",
            zone_id=args.domain.hosted_zone_id,
            name=args.domain.domain_name,
            type="A",
            aliases=[
                aws.route53.RecordAliasArgs(
                    name=args.target.dns_name,
                    zone_id=args.target.zone_id,
                    evaluate_target_health=True,
                )
            ],
            opts=pulumi.ResourceOptions(
                parent=self,
                # The record's name is the domain: a replacement must free it
                # first (INVARIANT C2).
                delete_before_replace=True,
            ),
        )
        self.fqdn = record.fqdn
        self.register_outputs({"fqdn": self.fqdn})
