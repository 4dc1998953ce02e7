"""A pure monthly cost model: resources in, billed quantities times unit prices out.

Each resource type the program creates either has a rule here (what AWS bills it
by, from the resource's inputs and the usage ``Assumptions``) or an explicit
no-charge row in the price table (infra/documents/prices.toml, one data file,
keyed by region then price key). ``estimate`` refuses a resource type with
neither, a region with no rows and a price key with no row, each by name, so a
new resource or a new instance class cannot slip past the estimate.

Nothing here imports Pulumi: infra/tooling/cost_report.py turns a mocked run of
the program into ``Resource`` values and prints what ``estimate`` returns.

Billing rules encoded below (the prices themselves are in the table, each with
its source):

- Multi-AZ RDS bills instance hours and provisioned storage for the primary and
  the standby (docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_OnDemandDBInstances.html).
- Interface VPC endpoints bill per hour in every Availability Zone they have a
  subnet in; gateway endpoints (S3) cost nothing (aws.amazon.com/privatelink/pricing/).
- An internet-facing ALB holds a public IPv4 address in each of its subnets'
  zones, billed like any other in-use public IPv4 address.
- RDS Proxy bills the vCPUs of its target instance, at least two.
"""

from __future__ import annotations

import datetime
import re
import tomllib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final, TypeAlias

PRICES_PATH: Final = Path(__file__).with_name("prices.toml")
HOURS_PER_MONTH: Final = 730.0
GIB: Final = 1024.0 * 1024.0  # KiB in a GiB
MIGRATE_FUNCTION_SUFFIX: Final = "-migrate-function"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# vCPUs of the DB instance classes the stacks may target (RDS Proxy bills them,
# with a floor of two): the AWS RDS DB instance class tables.
DB_VCPUS: Final[Mapping[str, int]] = {
    "db.t4g.micro": 2,
    "db.t4g.small": 2,
    "db.t4g.medium": 2,
    "db.t4g.large": 2,
    "db.t4g.xlarge": 4,
    "db.t4g.2xlarge": 8,
}
PROXY_MIN_VCPUS: Final = 2


class CostModelError(ValueError):
    """The price table or the model cannot price something; the message names it."""


class UnknownRegionError(CostModelError):
    """The price table has no rows for the region."""


class MissingPriceError(CostModelError):
    """A rule needs a price key the region has no row for."""


class UnpricedResourceTypeError(CostModelError):
    """A resource type has neither a rule nor a no-charge row."""


# ------------------------------------------------------------------ the table


@dataclass(frozen=True)
class PriceRow:
    """One unit price: what it is billed by, its figure and where it came from."""

    key: str
    unit: str
    usd: float
    billed_by: str
    source: str
    url: str = ""
    read: str = ""
    unverified: bool = False


@dataclass(frozen=True)
class PriceTable:
    """The price rows by region, and the resource types that cost nothing."""

    regions: Mapping[str, Mapping[str, PriceRow]]
    no_charge: Mapping[str, str]

    def rows(self, region: str) -> Mapping[str, PriceRow]:
        """Every row of ``region``; an error naming the region when it has none."""
        rows = self.regions.get(region)
        if not rows:
            known = ", ".join(sorted(self.regions)) or "none"
            raise UnknownRegionError(
                f"the price table has no rows for region {region!r} (regions priced: {known}); "
                f"add them to {PRICES_PATH.name}"
            )
        return rows

    def row(self, region: str, key: str) -> PriceRow:
        """One row; an error naming the key and the region when it is missing."""
        rows = self.rows(region)
        if key not in rows:
            raise MissingPriceError(
                f"no price row {key!r} for region {region!r}: add it to {PRICES_PATH.name}"
            )
        return rows[key]


def _parse_row(region: str, key: str, raw: Any) -> PriceRow:
    where = f"{region}.{key}"
    if not isinstance(raw, dict):
        raise CostModelError(f"price row {where} is not a table")
    allowed = {f.name for f in fields(PriceRow)} - {"key"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise CostModelError(f"price row {where} has unknown fields {unknown}")
    for name in ("unit", "billed_by", "source"):
        if not isinstance(raw.get(name), str) or not raw[name].strip():
            raise CostModelError(f"price row {where} needs a non-empty {name!r}")
    usd = raw.get("usd")
    if isinstance(usd, bool) or not isinstance(usd, (int, float)) or usd < 0:
        raise CostModelError(f"price row {where} needs a non-negative number 'usd'")
    unverified = raw.get("unverified", False)
    if not isinstance(unverified, bool):
        raise CostModelError(f"price row {where}: 'unverified' must be true or false")
    read = raw.get("read", "")
    if not isinstance(read, str) or (read and not _DATE.fullmatch(read)):
        raise CostModelError(f"price row {where}: 'read' must be a YYYY-MM-DD date")
    if read:
        datetime.date.fromisoformat(read)
    if not unverified and not read:
        raise CostModelError(
            f"price row {where} cites no date read: add read = 'YYYY-MM-DD' or unverified = true"
        )
    return PriceRow(
        key=key,
        unit=raw["unit"],
        usd=float(usd),
        billed_by=raw["billed_by"],
        source=raw["source"],
        url=str(raw.get("url", "")),
        read=read,
        unverified=unverified,
    )


def parse_prices(document: Mapping[str, Any]) -> PriceTable:
    """Validate a parsed price table: every row needs a source and a date or ``unverified``."""
    regions_raw = document.get("regions", {})
    no_charge_raw = document.get("no_charge", {})
    if not isinstance(regions_raw, dict) or not isinstance(no_charge_raw, dict):
        raise CostModelError("the price table needs [regions.*] and [no_charge] tables")
    regions: dict[str, dict[str, PriceRow]] = {}
    for region, rows in regions_raw.items():
        if not isinstance(rows, dict):
            raise CostModelError(f"region {region!r} is not a table of price rows")
        regions[region] = {key: _parse_row(region, key, raw) for key, raw in rows.items()}
    no_charge: dict[str, str] = {}
    for type_, reason in no_charge_raw.items():
        if not isinstance(reason, str) or not reason.strip():
            raise CostModelError(f"no-charge row {type_!r} needs a reason")
        no_charge[type_] = reason
    clash = sorted(set(no_charge) & set(RULES))
    if clash:
        raise CostModelError(f"types both priced by a rule and listed as no charge: {clash}")
    return PriceTable(regions=regions, no_charge=no_charge)


def load_prices(path: Path = PRICES_PATH) -> PriceTable:
    """Read and validate the price table file."""
    return parse_prices(tomllib.loads(path.read_text(encoding="utf-8")))


# ---------------------------------------------------------------- assumptions


@dataclass(frozen=True)
class Assumptions:
    """Usage the bill depends on but the program does not fix: explicit, with defaults."""

    hours_per_month: float = HOURS_PER_MONTH
    requests_per_month: float = 1_000_000.0
    average_response_kb: float = 20.0
    lambda_average_duration_ms: float = 100.0
    deploys_per_month: float = 20.0
    migrate_duration_seconds: float = 30.0
    private_egress_gb: float = 20.0
    log_ingest_gb_per_group: float = 0.5
    flow_log_gb: float = 5.0
    enhanced_monitoring_gb_at_60s: float = 0.5
    container_insights_metrics: float = 30.0
    container_insights_log_gb: float = 1.0
    ecr_storage_gb: float = 2.0
    access_log_storage_gb: float = 2.0
    db_backup_gb_beyond_free: float = 0.0
    m2m_token_requests: float = 10_000.0

    def describe(self) -> list[tuple[str, str]]:
        """``(assumption, value)`` lines, in a stable order, for reports."""
        return [
            ("hours in a month (always-on resources)", f"{self.hours_per_month:g} h"),
            ("requests a month (ALB or HTTP API, Lambda)", f"{self.requests_per_month:,.0f}"),
            ("average response size (ALB processed bytes)", f"{self.average_response_kb:g} KiB"),
            ("Lambda average duration per request", f"{self.lambda_average_duration_ms:g} ms"),
            (
                "deploys a month (migrate function runs)",
                f"{self.deploys_per_month:g} x {self.migrate_duration_seconds:g} s",
            ),
            (
                "private subnets' traffic to AWS APIs and the internet "
                "(through NAT, or interface endpoints when there are any)",
                f"{self.private_egress_gb:g} GB",
            ),
            ("log ingestion per log group", f"{self.log_ingest_gb_per_group:g} GB"),
            ("VPC flow logs ingested (when on)", f"{self.flow_log_gb:g} GB"),
            (
                "RDS Enhanced Monitoring logs at a 60 s interval (when on)",
                f"{self.enhanced_monitoring_gb_at_60s:g} GB",
            ),
            (
                "Container Insights (when on): custom metrics, performance logs",
                f"{self.container_insights_metrics:g} metrics, "
                f"{self.container_insights_log_gb:g} GB",
            ),
            ("ECR images stored", f"{self.ecr_storage_gb:g} GB"),
            ("ALB access logs kept in S3 (when on)", f"{self.access_log_storage_gb:g} GB"),
            (
                "RDS backup storage beyond the free allowance",
                f"{self.db_backup_gb_beyond_free:g} GB",
            ),
            (
                "Cognito client-credentials token requests (authCognito; callers reuse tokens)",
                f"{self.m2m_token_requests:,.0f}",
            ),
            (
                "not modelled",
                "free tiers, data transfer out, API request charges (KMS, SSM, Secrets "
                "Manager, SNS), Savings Plans and reserved capacity",
            ),
        ]


# --------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Resource:
    """One resource as the model sees it: type token, logical name, component, inputs."""

    type: str
    name: str
    component: str
    inputs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Charge:
    """A billed quantity of one price key, always-on (fixed) or usage-driven."""

    key: str
    quantity: float
    fixed: bool
    detail: str


@dataclass(frozen=True)
class Line:
    """A priced charge of one resource: its monthly USD amount."""

    resource: str
    type: str
    component: str
    key: str
    quantity: float
    unit: str
    unit_usd: float
    fixed: bool
    detail: str

    @property
    def usd(self) -> float:
        """Monthly amount of this line."""
        return self.quantity * self.unit_usd


@dataclass(frozen=True)
class Free:
    """A resource that costs nothing by itself, with the reason."""

    resource: str
    type: str
    component: str
    reason: str


class Stack:
    """The whole set of resources, for rules that need a neighbour (a service's task)."""

    def __init__(self, resources: Sequence[Resource]) -> None:
        self.resources = list(resources)
        self.counts = Counter(resource.type for resource in self.resources)

    def of_type(self, type_: str) -> list[Resource]:
        """Resources of one type token."""
        return [resource for resource in self.resources if resource.type == type_]

    def interface_endpoints(self) -> list[Resource]:
        """The stack's interface VPC endpoints (the ones billed per AZ-hour)."""
        return [
            resource
            for resource in self.of_type(T_VPC_ENDPOINT)
            if resource.inputs.get("vpcEndpointType") == "Interface"
        ]


Rule: TypeAlias = Callable[[Resource, Stack, Assumptions], "list[Charge] | str"]

T_NAT: Final = "aws:ec2/natGateway:NatGateway"
T_EIP: Final = "aws:ec2/eip:Eip"
T_VPC_ENDPOINT: Final = "aws:ec2/vpcEndpoint:VpcEndpoint"
T_TASK_DEFINITION: Final = "aws:ecs/taskDefinition:TaskDefinition"
T_DB: Final = "aws:rds/instance:Instance"


def _number(value: Any, default: float = 0.0) -> float:
    """A numeric input (Pulumi hands some over as strings, e.g. a task's cpu)."""
    if value is None or value == "":
        return default
    return float(value)


# ---------------------------------------------------------------------- rules


def _nat_gateway(resource: Resource, stack: Stack, usage: Assumptions) -> list[Charge]:
    charges = [Charge("nat_gateway_hour", usage.hours_per_month, True, "always on")]
    # Private traffic leaves through interface endpoints when the stack has any.
    if not stack.interface_endpoints():
        share = usage.private_egress_gb / stack.counts[T_NAT]
        charges.append(Charge("nat_gateway_gb", share, False, "share of private egress"))
    return charges


def _eip(resource: Resource, stack: Stack, usage: Assumptions) -> list[Charge]:
    return [Charge("public_ipv4_hour", usage.hours_per_month, True, "public IPv4 address")]


def _vpc_endpoint(resource: Resource, stack: Stack, usage: Assumptions) -> list[Charge] | str:
    if resource.inputs.get("vpcEndpointType") != "Interface":
        return "gateway endpoint: no charge"
    zones = len(resource.inputs.get("subnetIds") or [])
    if zones == 0:
        raise CostModelError(f"interface endpoint {resource.name!r} has no subnets to bill")
    share = usage.private_egress_gb / len(stack.interface_endpoints())
    return [
        Charge("vpc_interface_endpoint_hour", zones * usage.hours_per_month, True, f"{zones} AZs"),
        Charge("vpc_interface_endpoint_gb", share, False, "share of private egress"),
    ]


def _flow_log(resource: Resource, stack: Stack, usage: Assumptions) -> list[Charge]:
    return [Charge("logs_ingest_gb", usage.flow_log_gb, False, "vended log delivery")]


def _load_balancer(resource: Resource, stack: Stack, usage: Assumptions) -> list[Charge]:
    hours = usage.hours_per_month
    # LCU: the largest dimension wins; at this traffic it is processed bytes or
    # new connections (one per request, the worst case), never rule evaluations.
    gb_per_hour = usage.requests_per_month * usage.average_response_kb / GIB / hours
    connections_per_second = usage.requests_per_month / (hours * 3600)
    lcu = max(gb_per_hour / 1.0, connections_per_second / 25.0)
    charges = [
        Charge("alb_hour", hours, True, "always on"),
        Charge("alb_lcu_hour", lcu * hours, False, f"{lcu:.3f} LCU on average"),
    ]
    if not resource.inputs.get("internal"):
        zones = len(resource.inputs.get("subnets") or [])
        charges.append(
            Charge("public_ipv4_hour", zones * hours, True, f"{zones} public IPv4 (one per AZ)")
        )
    return charges


def _ecs_cluster(resource: Resource, stack: Stack, usage: Assumptions) -> list[Charge] | str:
    settings = resource.inputs.get("settings") or []
    insights = any(
        item.get("name") == "containerInsights" and item.get("value") in ("enabled", "enhanced")
        for item in settings
    )
    if not insights:
        return "ECS clusters: no charge (Container Insights off)"
    return [
        Charge("custom_metric_month", usage.container_insights_metrics, True, "Container Insights"),
        Charge("logs_ingest_gb", usage.container_insights_log_gb, False, "Container Insights logs"),
    ]


def _task_definition(service: Resource, stack: Stack) -> Resource:
    """The task definition an ECS service runs (its family is in the service's ARN)."""
    arn = str(service.inputs.get("taskDefinition", ""))
    family = arn.rsplit("/", 1)[-1].split(":")[0]
    for task in stack.of_type(T_TASK_DEFINITION):
        if task.inputs.get("family") == family:
            return task
    raise CostModelError(f"ECS service {service.name!r}: no task definition {family!r}")


def _ecs_service(resource: Resource, stack: Stack, usage: Assumptions) -> list[Charge]:
    launch = resource.inputs.get("launchType", "FARGATE")
    if launch != "FARGATE":
        raise CostModelError(f"ECS service {resource.name!r}: launch type {launch!r} not modelled")
    task = _task_definition(resource, stack)
    vcpu = _number(task.inputs.get("cpu")) / 1024
    memory_gb = _number(task.inputs.get("memory")) / 1024
    arch = str((task.inputs.get("runtimePlatform") or {}).get("cpuArchitecture", "X86_64"))
    suffix = {"X86_64": "x86_64", "ARM64": "arm64"}[arch]
    tasks = _number(resource.inputs.get("desiredCount"), 1.0)
    task_hours = tasks * usage.hours_per_month
    what = f"{tasks:g} task(s) x {vcpu:g} vCPU / {memory_gb:g} GB {suffix}"
    return [
        Charge(f"fargate_vcpu_hour_{suffix}", vcpu * task_hours, True, what),
        Charge(f"fargate_gb_hour_{suffix}", memory_gb * task_hours, True, what),
    ]


def _lambda_function(resource: Resource, stack: Stack, usage: Assumptions) -> list[Charge]:
    memory_gb = _number(resource.inputs.get("memorySize"), 128.0) / 1024
    arch = str((resource.inputs.get("architectures") or ["x86_64"])[0])
    if resource.name.endswith(MIGRATE_FUNCTION_SUFFIX):
        invocations = usage.deploys_per_month
        seconds = usage.migrate_duration_seconds
        what = "migrations, once per deploy"
    else:
        invocations = usage.requests_per_month
        seconds = usage.lambda_average_duration_ms / 1000
        what = "requests"
    return [
        Charge("lambda_request_million", invocations / 1e6, False, what),
        Charge(
            f"lambda_gb_second_{arch}",
            invocations * seconds * memory_gb,
            False,
            f"{what} at {memory_gb * 1024:g} MB",
        ),
    ]


def _http_api(resource: Resource, stack: Stack, usage: Assumptions) -> list[Charge]:
    return [Charge("http_api_request_million", usage.requests_per_month / 1e6, False, "requests")]


def _db_instance(resource: Resource, stack: Stack, usage: Assumptions) -> list[Charge]:
    engine = resource.inputs.get("engine")
    if engine != "postgres":
        raise CostModelError(f"RDS instance {resource.name!r}: engine {engine!r} not modelled")
    copies = 2 if resource.inputs.get("multiAz") else 1
    layout = "Multi-AZ (primary + standby)" if copies == 2 else "Single-AZ"
    klass = resource.inputs.get("instanceClass")
    storage_type = resource.inputs.get("storageType", "gp2")
    storage = _number(resource.inputs.get("allocatedStorage"))
    charges = [
        Charge(f"rds_postgres_hour:{klass}", copies * usage.hours_per_month, True, layout),
        Charge(f"rds_{storage_type}_gb_month", copies * storage, True, f"{storage:g} GB, {layout}"),
    ]
    if usage.db_backup_gb_beyond_free:
        charges.append(
            Charge("rds_backup_gb_month", usage.db_backup_gb_beyond_free, False, "backups")
        )
    interval = _number(resource.inputs.get("monitoringInterval"))
    if interval > 0:
        gb = usage.enhanced_monitoring_gb_at_60s * 60 / interval
        charges.append(
            Charge("logs_ingest_gb", gb, False, f"Enhanced Monitoring every {interval:g} s")
        )
    return charges


def _db_proxy(resource: Resource, stack: Stack, usage: Assumptions) -> list[Charge]:
    instances = stack.of_type(T_DB)
    if len(instances) != 1:
        raise CostModelError(f"RDS Proxy {resource.name!r}: expected one DB instance")
    klass = str(instances[0].inputs.get("instanceClass"))
    if klass not in DB_VCPUS:
        raise CostModelError(f"RDS Proxy {resource.name!r}: vCPUs of {klass!r} unknown (DB_VCPUS)")
    vcpus = max(DB_VCPUS[klass], PROXY_MIN_VCPUS)
    return [
        Charge(
            "rds_proxy_vcpu_hour", vcpus * usage.hours_per_month, True, f"{vcpus} vCPUs of {klass}"
        )
    ]


def _cache(resource: Resource, stack: Stack, usage: Assumptions) -> list[Charge]:
    nodes = _number(resource.inputs.get("numCacheClusters"), 1.0)
    node_type = resource.inputs.get("nodeType")
    return [
        Charge(
            f"elasticache_node_hour:{node_type}",
            nodes * usage.hours_per_month,
            True,
            f"{nodes:g} node(s)",
        )
    ]


def _log_group(resource: Resource, stack: Stack, usage: Assumptions) -> list[Charge]:
    ingest = usage.log_ingest_gb_per_group
    retention = _number(resource.inputs.get("retentionInDays"))
    if retention <= 0:
        raise CostModelError(f"log group {resource.name!r} keeps logs forever: not modelled")
    # Steady state: each month's ingestion is kept for retention/30 months.
    kept = ingest * retention / 30
    return [
        Charge("logs_ingest_gb", ingest, False, "ingestion"),
        Charge("logs_storage_gb_month", kept, False, f"kept {retention:g} days"),
    ]


def _alarm(resource: Resource, stack: Stack, usage: Assumptions) -> list[Charge]:
    queries = resource.inputs.get("metricQueries") or []
    if queries:
        # Metric math: each metric read is billed, the expression is not.
        metrics = [query["metric"] for query in queries if query.get("metric")]
        periods = [_number(metric.get("period"), 60.0) for metric in metrics]
    else:
        metrics = [resource.inputs]
        periods = [_number(resource.inputs.get("period"), 60.0)]
    high = sum(1 for period in periods if period < 60)
    charges = []
    if len(metrics) - high:
        charges.append(Charge("alarm_metric_month", len(metrics) - high, True, "alarm metrics"))
    if high:
        charges.append(Charge("alarm_metric_month_high_resolution", high, True, "alarm metrics"))
    return charges


def _dashboard(resource: Resource, stack: Stack, usage: Assumptions) -> list[Charge]:
    return [Charge("dashboard_month", 1, True, "dashboard")]


def _kms_key(resource: Resource, stack: Stack, usage: Assumptions) -> list[Charge]:
    return [Charge("kms_key_month", 1, True, "customer managed key")]


def _secret(resource: Resource, stack: Stack, usage: Assumptions) -> list[Charge]:
    return [Charge("secret_month", 1, True, "secret")]


def _ssm_parameter(resource: Resource, stack: Stack, usage: Assumptions) -> list[Charge] | str:
    tier = resource.inputs.get("tier") or "Standard"
    if tier == "Standard":
        return "standard-tier SSM parameters: no charge"
    # No row exists for this key: an advanced parameter fails the estimate by name.
    return [Charge("ssm_advanced_parameter_month", 1, True, f"{tier} parameter")]


def _ecr_repository(resource: Resource, stack: Stack, usage: Assumptions) -> list[Charge]:
    return [Charge("ecr_storage_gb_month", usage.ecr_storage_gb, False, "images stored")]


def _bucket(resource: Resource, stack: Stack, usage: Assumptions) -> list[Charge]:
    return [Charge("s3_standard_gb_month", usage.access_log_storage_gb, False, "access logs kept")]


def _cognito_client(resource: Resource, stack: Stack, usage: Assumptions) -> list[Charge] | str:
    if "client_credentials" not in (resource.inputs.get("allowedOauthFlows") or []):
        return "app clients without the client credentials grant: billed per user, none here"
    return [
        Charge("cognito_m2m_app_client_month", 1, True, "machine-to-machine app client"),
        Charge(
            "cognito_m2m_token_requests_thousand",
            usage.m2m_token_requests / 1000,
            False,
            "client-credentials token requests",
        ),
    ]


def _sns_topic(resource: Resource, stack: Stack, usage: Assumptions) -> str:
    return "SNS topics: no standing charge (a few alarm notifications a month are not modelled)"


RULES: Final[Mapping[str, Rule]] = {
    T_NAT: _nat_gateway,
    T_EIP: _eip,
    T_VPC_ENDPOINT: _vpc_endpoint,
    "aws:ec2/flowLog:FlowLog": _flow_log,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:ecs/cluster:Cluster": _ecs_cluster,
    "aws:ecs/service:Service": _ecs_service,
    "aws:lambda/function:Function": _lambda_function,
    "aws:apigatewayv2/api:Api": _http_api,
    T_DB: _db_instance,
    "aws:rds/proxy:Proxy": _db_proxy,
    "aws:elasticache/replicationGroup:ReplicationGroup": _cache,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:kms/key:Key": _kms_key,
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:ssm/parameter:Parameter": _ssm_parameter,
    "aws:ecr/repository:Repository": _ecr_repository,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:sns/topic:Topic": _sns_topic,
    "aws:cognito/userPoolClient:UserPoolClient": _cognito_client,
}


def unpriced_types(types: Iterable[str], table: PriceTable) -> list[str]:
    """The types with neither a rule nor a no-charge row (empty when all are covered)."""
    return sorted({type_ for type_ in types if type_ not in RULES and type_ not in table.no_charge})


# ------------------------------------------------------------------- estimate


@dataclass(frozen=True)
class Estimate:
    """Priced lines, free resources and the prices used, for one stack in one region."""

    region: str
    lines: tuple[Line, ...]
    free: tuple[Free, ...]
    assumptions: Assumptions
    rows_used: Mapping[str, PriceRow]

    @property
    def total(self) -> float:
        """Monthly total."""
        return sum(line.usd for line in self.lines)

    @property
    def fixed(self) -> float:
        """Always-on part of the total (hours, months): paid even with no traffic."""
        return sum(line.usd for line in self.lines if line.fixed)

    @property
    def usage(self) -> float:
        """Usage-driven part of the total (requests, GB): follows the assumptions."""
        return self.total - self.fixed

    def by_component(self) -> dict[str, float]:
        """Monthly amount per component, largest first."""
        totals: dict[str, float] = defaultdict(float)
        for line in self.lines:
            totals[line.component] += line.usd
        return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))

    def by_key(self) -> dict[str, float]:
        """Monthly amount per price key, largest first."""
        totals: dict[str, float] = defaultdict(float)
        for line in self.lines:
            totals[line.key] += line.usd
        return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))

    @property
    def unverified_keys(self) -> list[str]:
        """The price keys used here whose rows are marked unverified."""
        return sorted(key for key, row in self.rows_used.items() if row.unverified)

    def banner(self) -> str:
        """The warning every printed estimate carries while it uses an unverified row."""
        unverified = self.unverified_keys
        if not unverified:
            return ""
        return (
            f"UNVERIFIED: {len(unverified)} of the {len(self.rows_used)} prices used have no "
            f"{self.region} source read (marked unverified in infra/documents/prices.toml: "
            f"{', '.join(unverified)}); treat the totals as approximate."
        )


def estimate(
    resources: Sequence[Resource],
    region: str,
    table: PriceTable,
    assumptions: Assumptions | None = None,
) -> Estimate:
    """Price every resource; raise naming the type, region or key the table lacks."""
    usage = assumptions or Assumptions()
    table.rows(region)  # fail by region name first, even for a stack of free resources
    missing = unpriced_types((resource.type for resource in resources), table)
    if missing:
        raise UnpricedResourceTypeError(
            f"no cost rule and no no-charge row for resource types {missing}: add a rule to "
            f"infra/documents/cost.py or a [no_charge] row to {PRICES_PATH.name}"
        )
    stack = Stack(resources)
    lines: list[Line] = []
    free: list[Free] = []
    used: dict[str, PriceRow] = {}
    for resource in resources:
        rule = RULES.get(resource.type)
        outcome = table.no_charge[resource.type] if rule is None else rule(resource, stack, usage)
        if isinstance(outcome, str):
            free.append(Free(resource.name, resource.type, resource.component, outcome))
            continue
        for charge in outcome:
            row = table.row(region, charge.key)
            used[charge.key] = row
            lines.append(
                Line(
                    resource=resource.name,
                    type=resource.type,
                    component=resource.component,
                    key=charge.key,
                    quantity=charge.quantity,
                    unit=row.unit,
                    unit_usd=row.usd,
                    fixed=charge.fixed,
                    detail=charge.detail,
                )
            )
    return Estimate(
        region=region,
        lines=tuple(lines),
        free=tuple(free),
        assumptions=usage,
        rows_used=dict(sorted(used.items())),
    )
