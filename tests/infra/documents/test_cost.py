"""The pure cost model (infra/documents/cost.py) and its price table, without Pulumi."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import pytest

from infra.documents import cost
from infra.documents.cost import Assumptions, Resource

REGION = "eu-west-1"


def _document() -> dict[str, Any]:
    return tomllib.loads(cost.PRICES_PATH.read_text(encoding="utf-8"))


def _row(usd: float, *, unverified: bool = False) -> dict[str, Any]:
    row: dict[str, Any] = {
        "unit": "unit",
        "usd": usd,
        "billed_by": "something",
        "source": "a test",
    }
    if unverified:
        row["unverified"] = True
    else:
        row["read"] = "2026-12-04"
    return row


def _table(
    rows: dict[str, dict[str, Any]], no_charge: dict[str, str] | None = None
) -> cost.PriceTable:
    return cost.parse_prices({"regions": {REGION: rows}, "no_charge": no_charge or {}})


# ------------------------------------------------------------------ the table


def test_every_row_cites_a_source_and_a_date_or_is_marked_unverified() -> None:
    """The committed table: each row has a source, and a date read unless unverified."""
    table = cost.load_prices()
    rows = table.rows(REGION)
    assert rows, "eu-west-1 (both stacks' region) has price rows"
    for key, row in rows.items():
        assert row.source.strip(), key
        assert row.unverified or row.read, key
        if row.read:
            assert row.read == "2026-12-04", f"{key}: read on the day the table was written"
        assert row.usd >= 0, key
    verified = [key for key, row in rows.items() if not row.unverified]
    assert "nat_gateway_hour" in verified
    assert "alb_hour" in verified


def test_a_row_without_date_or_unverified_mark_is_refused() -> None:
    """A verified row must say when its source was read."""
    document = _document()
    row = document["regions"][REGION]["nat_gateway_hour"]
    del row["read"]
    with pytest.raises(cost.CostModelError, match=r"eu-west-1\.nat_gateway_hour cites no date"):
        cost.parse_prices(document)


def test_a_row_without_source_is_refused() -> None:
    """Every row, verified or not, names where its figure came from."""
    document = _document()
    document["regions"][REGION]["s3_standard_gb_month"]["source"] = " "
    with pytest.raises(
        cost.CostModelError, match="s3_standard_gb_month needs a non-empty 'source'"
    ):
        cost.parse_prices(document)


def test_a_malformed_date_is_refused() -> None:
    """``read`` is a YYYY-MM-DD date."""
    document = _document()
    document["regions"][REGION]["alb_hour"]["read"] = "4 Dec 2026"
    with pytest.raises(cost.CostModelError, match="YYYY-MM-DD"):
        cost.parse_prices(document)


def test_a_type_cannot_be_both_priced_and_free() -> None:
    """A no-charge row for a type the model prices is a contradiction."""
    document = copy.deepcopy(_document())
    document["no_charge"]["aws:ec2/natGateway:NatGateway"] = "free?"
    with pytest.raises(cost.CostModelError, match="natGateway"):
        cost.parse_prices(document)


# ------------------------------------------------------------------ failures by name


def test_a_region_without_rows_fails_by_name() -> None:
    """An estimate for a region the table does not price names the region."""
    table = cost.load_prices()
    resources = [Resource("aws:ec2/vpc:Vpc", "network-vpc", "network")]
    with pytest.raises(cost.UnknownRegionError, match="'ap-south-2'"):
        cost.estimate(resources, "ap-south-2", table)


def test_a_resource_type_without_rule_or_row_fails_by_name() -> None:
    """A new resource type cannot slip past the estimate."""
    table = cost.load_prices()
    resources = [Resource("aws:dynamodb/table:Table", "table", "data")]
    with pytest.raises(cost.UnpricedResourceTypeError, match="aws:dynamodb/table:Table"):
        cost.estimate(resources, REGION, table)


def test_a_price_key_without_row_fails_by_name() -> None:
    """An instance class the table has no row for is named with the region."""
    table = cost.load_prices()
    db = Resource(
        "aws:rds/instance:Instance",
        "database-instance",
        "database",
        {"engine": "postgres", "instanceClass": "db.r7g.large", "allocatedStorage": 20,
         "storageType": "gp3"},
    )  # fmt: skip
    with pytest.raises(
        cost.MissingPriceError, match=r"'rds_postgres_hour:db\.r7g\.large'.*'eu-west-1'"
    ):
        cost.estimate([db], REGION, table)


# ------------------------------------------------------------------ units


def test_nat_gateway_bills_hours_and_its_share_of_the_traffic() -> None:
    """730 h x hourly rate (fixed) + GB split across gateways (usage)."""
    table = _table({"nat_gateway_hour": _row(0.05), "nat_gateway_gb": _row(0.04)})
    nats = [Resource("aws:ec2/natGateway:NatGateway", f"nat-{i}", "network") for i in range(2)]
    result = cost.estimate(nats, REGION, table, Assumptions(private_egress_gb=100))
    assert result.fixed == pytest.approx(2 * 730 * 0.05)
    assert result.usage == pytest.approx(100 * 0.04)
    assert result.total == pytest.approx(73.0 + 4.0)


def test_interface_endpoints_bill_per_az_hour_and_take_the_traffic_from_nat() -> None:
    """Per endpoint per AZ per hour; with endpoints present the NAT processes nothing."""
    table = _table({
        "nat_gateway_hour": _row(0.048), "nat_gateway_gb": _row(0.048),
        "vpc_interface_endpoint_hour": _row(0.01), "vpc_interface_endpoint_gb": _row(0.01),
    })  # fmt: skip
    endpoints = [
        Resource("aws:ec2/vpcEndpoint:VpcEndpoint", f"ep-{i}", "network",
                 {"vpcEndpointType": "Interface", "subnetIds": ["a", "b"]})
        for i in range(4)
    ] + [Resource("aws:ec2/vpcEndpoint:VpcEndpoint", "s3", "network",
                  {"vpcEndpointType": "Gateway"})]  # fmt: skip
    result = cost.estimate(endpoints, REGION, table, Assumptions(private_egress_gb=20))
    assert result.fixed == pytest.approx(4 * 2 * 730 * 0.01)
    assert result.usage == pytest.approx(20 * 0.01)
    assert [free.resource for free in result.free] == ["s3"]
    # Four endpoints across two AZs cost more than one NAT gateway's hours.
    nat = cost.estimate(
        [Resource("aws:ec2/natGateway:NatGateway", "nat", "network")], REGION, table
    )
    assert result.fixed > nat.fixed


def test_multi_az_database_bills_primary_and_standby() -> None:
    """Instance hours and provisioned storage double with Multi-AZ."""
    table = _table({"rds_postgres_hour:db.t4g.micro": _row(0.017), "rds_gp3_gb_month": _row(0.127)})
    inputs = {"engine": "postgres", "instanceClass": "db.t4g.micro", "allocatedStorage": 20,
              "storageType": "gp3"}  # fmt: skip
    single = cost.estimate(
        [Resource("aws:rds/instance:Instance", "db", "database", inputs)], REGION, table
    )
    multi = cost.estimate(
        [Resource("aws:rds/instance:Instance", "db", "database", {**inputs, "multiAz": True})],
        REGION,
        table,
    )
    assert single.total == pytest.approx(730 * 0.017 + 20 * 0.127)
    assert multi.total == pytest.approx(2 * single.total)


def test_fargate_service_bills_its_task_size_and_architecture() -> None:
    """desiredCount x (vCPU + GB) hours at the architecture's rates."""
    table = _table(
        {"fargate_vcpu_hour_arm64": _row(0.03238), "fargate_gb_hour_arm64": _row(0.00356)},
        {"aws:ecs/taskDefinition:TaskDefinition": "free"},
    )
    task = Resource("aws:ecs/taskDefinition:TaskDefinition", "task", "app",
                    {"family": "fam", "cpu": "512", "memory": "1024",
                     "runtimePlatform": {"cpuArchitecture": "ARM64"}})  # fmt: skip
    service = Resource("aws:ecs/service:Service", "service", "app",
                       {"taskDefinition": "arn:aws:ecs:eu-west-1:1:task-definition/fam:3",
                        "desiredCount": 2, "launchType": "FARGATE"})  # fmt: skip
    result = cost.estimate([task, service], REGION, table)
    assert result.total == pytest.approx(2 * 730 * (0.5 * 0.03238 + 1.0 * 0.00356))
    assert result.fixed == pytest.approx(result.total)


def test_lambda_bills_requests_and_gb_seconds_and_the_migrate_function_per_deploy() -> None:
    """Requests x duration x memory; the migrate function runs once per deploy."""
    table = _table({"lambda_request_million": _row(0.2), "lambda_gb_second_arm64": _row(0.00001)})
    usage = Assumptions(requests_per_month=2_000_000, lambda_average_duration_ms=50,
                        deploys_per_month=10, migrate_duration_seconds=60)  # fmt: skip
    app = Resource("aws:lambda/function:Function", "app-function", "app",
                   {"memorySize": 512, "architectures": ["arm64"]})  # fmt: skip
    migrate = Resource("aws:lambda/function:Function", "app-migrate-function", "app",
                       {"memorySize": 1024, "architectures": ["arm64"]})  # fmt: skip
    result = cost.estimate([app, migrate], REGION, table, usage)
    served = 2 * 0.2 + 2_000_000 * 0.05 * 0.5 * 0.00001
    migrations = 10 / 1e6 * 0.2 + 10 * 60 * 1.0 * 0.00001
    assert result.total == pytest.approx(served + migrations)
    assert result.fixed == 0


def test_rds_proxy_bills_at_least_two_vcpus_of_its_instance() -> None:
    """RDS Proxy: vCPUs of the target instance class, a floor of two."""
    table = _table({"rds_proxy_vcpu_hour": _row(0.015), "rds_postgres_hour:db.t4g.micro": _row(0),
                    "rds_gp3_gb_month": _row(0)})  # fmt: skip
    db = Resource("aws:rds/instance:Instance", "db", "database",
                  {"engine": "postgres", "instanceClass": "db.t4g.micro", "allocatedStorage": 20,
                   "storageType": "gp3"})  # fmt: skip
    proxy = Resource("aws:rds/proxy:Proxy", "proxy", "app")
    result = cost.estimate([db, proxy], REGION, table)
    assert result.total == pytest.approx(2 * 730 * 0.015)


def test_metric_math_alarms_bill_each_metric_they_read() -> None:
    """An alarm over m0/m1 bills two alarm metrics; a plain alarm one."""
    table = _table({"alarm_metric_month": _row(0.10)})
    math = Resource("aws:cloudwatch/metricAlarm:MetricAlarm", "rate", "app", {"metricQueries": [
        {"id": "e1", "expression": "m0/m1"},
        {"id": "m0", "metric": {"period": 60}}, {"id": "m1", "metric": {"period": 60}},
    ]})  # fmt: skip
    plain = Resource("aws:cloudwatch/metricAlarm:MetricAlarm", "cpu", "app", {"period": 300})
    assert cost.estimate([math, plain], REGION, table).total == pytest.approx(0.30)


def test_log_storage_follows_retention() -> None:
    """What is kept grows with the retention: 365 days keeps 12x what 30 days keeps."""
    table = _table({"logs_ingest_gb": _row(0.5), "logs_storage_gb_month": _row(0.03)})

    def storage(days: int) -> float:
        group = Resource(
            "aws:cloudwatch/logGroup:LogGroup", "logs", "app", {"retentionInDays": days}
        )
        result = cost.estimate([group], REGION, table, Assumptions(log_ingest_gb_per_group=1))
        return sum(line.usd for line in result.lines if line.key == "logs_storage_gb_month")

    assert storage(30) == pytest.approx(0.03)
    assert storage(365) == pytest.approx(0.03 * 365 / 30)


def test_no_charge_types_are_listed_with_their_reason() -> None:
    """Free resources appear in the estimate as such, not silently dropped."""
    table = cost.load_prices()
    result = cost.estimate([Resource("aws:ec2/vpc:Vpc", "network-vpc", "network")], REGION, table)
    assert result.total == 0
    assert result.free[0].reason == "VPCs: no charge"


# ------------------------------------------------------------------ the banner


def test_an_estimate_using_an_unverified_row_says_so() -> None:
    """The banner names the unverified keys; an all-verified estimate has none."""
    verified = _table({"nat_gateway_hour": _row(0.048), "nat_gateway_gb": _row(0.048)})
    nat = [Resource("aws:ec2/natGateway:NatGateway", "nat", "network")]
    assert cost.estimate(nat, REGION, verified).banner() == ""
    shaky = _table(
        {"nat_gateway_hour": _row(0.048), "nat_gateway_gb": _row(0.048, unverified=True)}
    )
    banner = cost.estimate(nat, REGION, shaky).banner()
    assert banner.startswith("UNVERIFIED: 1 of the 2 prices used")
    assert "nat_gateway_gb" in banner
    assert "nat_gateway_hour" not in banner
