"""Network: VPC, public/private subnets per AZ, NAT or VPC endpoints, flow logs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components import type_token
from infra.config import NatStrategy
from infra.documents import iam
from infra.documents.cidr import plan_subnets

# Interface endpoints private tasks and functions need when there is no NAT:
# image pulls (ECR api + dkr), awslogs, and SSM parameters (INVARIANT A7).
INTERFACE_ENDPOINTS: tuple[str, ...] = ("ecr.api", "ecr.dkr", "logs", "ssm")
HTTPS_PORT = 443


@dataclass(frozen=True)
class NetworkArgs:
    """Inputs of the Network component (all plain values from StackConfig)."""

    vpc_cidr: str
    az_count: int
    nat_strategy: NatStrategy
    vpc_endpoints: bool
    flow_logs: bool
    log_retention_days: int
    region: str


class Network(pulumi.ComponentResource):
    """VPC with public and private subnets across the configured AZs."""

    vpc_id: pulumi.Output[str]
    vpc_cidr: str
    availability_zones: tuple[str, ...]
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    private_route_table_ids: list[pulumi.Output[str]]
    nat_gateway_ids: list[pulumi.Output[str]]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Create the VPC and everything in it; see the module docstring."""
        super().__init__(type_token("network", "Network"), name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        plan = plan_subnets(args.vpc_cidr, args.az_count)
        self.availability_zones = self._availability_zones(args)
        self.vpc_cidr = args.vpc_cidr

        vpc = self._vpc(name, args, child)
        self.vpc_id = vpc.id
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, opts=child)

        public_subnets = self._subnets(name, "public", plan.public, vpc, child)
        private_subnets = self._subnets(name, "private", plan.private, vpc, child)
        self.public_subnet_ids = [subnet.id for subnet in public_subnets]
        self.private_subnet_ids = [subnet.id for subnet in private_subnets]

        self._public_routes(name, vpc, igw, public_subnets, child)
        nat_ids = self._nat_gateways(name, args.nat_strategy, public_subnets, igw, child)
        self.nat_gateway_ids = nat_ids
        private_tables = self._private_routes(name, vpc, private_subnets, nat_ids, child)
        self.private_route_table_ids = [table.id for table in private_tables]

        if args.vpc_endpoints:
            self._endpoints(name, args, vpc, private_subnets, private_tables, child)
        if args.flow_logs:
            self._flow_logs(name, args, vpc, child)

        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "publicSubnetIds": self.public_subnet_ids,
                "privateSubnetIds": self.private_subnet_ids,
            }
        )

    def _availability_zones(self, args: NetworkArgs) -> tuple[str, ...]:
        """The first ``az_count`` available zones of the region, by name."""
        zones = aws.get_availability_zones(
            state="available", opts=pulumi.InvokeOptions(parent=self)
        )
        if len(zones.names) < args.az_count:
            raise ValueError(
                f"azCount is {args.az_count} but region {args.region} offers only "
                f"{len(zones.names)} available zones: {', '.join(zones.names)}"
            )
        return tuple(sorted(zones.names)[: args.az_count])

    def _vpc(self, name: str, args: NetworkArgs, child: pulumi.ResourceOptions) -> aws.ec2.Vpc:
        """The VPC, with its default security group adopted and emptied."""
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.vpc_cidr,
            enable_dns_support=True,
            # Interface endpoints with private DNS need DNS hostnames.
            enable_dns_hostnames=True,
            opts=child,
        )
        # The default security group allows all traffic between its members;
        # adopting it with no rules removes them (CKV2_AWS_12).
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, opts=child)
        return vpc

    def _subnets(
        self,
        name: str,
        tier: str,
        cidrs: Sequence[str],
        vpc: aws.ec2.Vpc,
        child: pulumi.ResourceOptions,
    ) -> list[aws.ec2.Subnet]:
        """One ``tier`` ("public" or "private") subnet per availability zone."""
        return [
            aws.ec2.Subnet(
                f"{name}-{tier}-{index}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                # No subnet needs an automatic public IP, not even a public one: the
                # ALB and NAT gateways get theirs explicitly (INVARIANT B4).
                map_public_ip_on_launch=False,
                opts=child,
            )
            for index, (cidr, zone) in enumerate(zip(cidrs, self.availability_zones, strict=True))
        ]

    def _public_routes(
        self,
        name: str,
        vpc: aws.ec2.Vpc,
        igw: aws.ec2.InternetGateway,
        public_subnets: Sequence[aws.ec2.Subnet],
        child: pulumi.ResourceOptions,
    ) -> None:
        """One route table for every public subnet, its default route to the internet gateway."""
        public_routes = aws.ec2.RouteTable(f"{name}-public-rt", vpc_id=vpc.id, opts=child)
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_routes.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=child,
        )
        for index, subnet in enumerate(public_subnets):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{index}",
                subnet_id=subnet.id,
                route_table_id=public_routes.id,
                opts=child,
            )

    def _nat_gateways(
        self,
        name: str,
        strategy: NatStrategy,
        public_subnets: Sequence[aws.ec2.Subnet],
        igw: aws.ec2.InternetGateway,
        child: pulumi.ResourceOptions,
    ) -> list[pulumi.Output[str]]:
        """The NAT gateways ``strategy`` asks for (none, one, or one per AZ), each with an EIP."""
        count = {"none": 0, "single": 1, "per-az": len(public_subnets)}[strategy]
        nat_ids: list[pulumi.Output[str]] = []
        for index in range(count):
            eip = aws.ec2.Eip(f"{name}-nat-eip-{index}", domain="vpc", opts=child)
            nat = aws.ec2.NatGateway(
                f"{name}-nat-{index}",
                allocation_id=eip.id,
                subnet_id=public_subnets[index].id,
                # A NAT gateway only works once the VPC has an internet gateway.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
            )
            nat_ids.append(nat.id)
        return nat_ids

    def _private_routes(
        self,
        name: str,
        vpc: aws.ec2.Vpc,
        private_subnets: Sequence[aws.ec2.Subnet],
        nat_ids: Sequence[pulumi.Output[str]],
        child: pulumi.ResourceOptions,
    ) -> list[aws.ec2.RouteTable]:
        """A route table per private subnet, with a default route to a NAT if there is one."""
        private_tables: list[aws.ec2.RouteTable] = []
        for index, subnet in enumerate(private_subnets):
            table = aws.ec2.RouteTable(f"{name}-private-rt-{index}", vpc_id=vpc.id, opts=child)
            private_tables.append(table)
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{index}",
                subnet_id=subnet.id,
                route_table_id=table.id,
                opts=child,
            )
            if nat_ids:
                # per-az: each AZ its own NAT (an AZ outage stays local); single: one.
                aws.ec2.Route(
                    f"{name}-private-default-{index}",
                    route_table_id=table.id,
                    destination_cidr_block="0.0.0.0/0",
                    nat_gateway_id=nat_ids[index % len(nat_ids)],
                    opts=child,
                )
        return private_tables

    def _endpoints(
        self,
        name: str,
        args: NetworkArgs,
        vpc: aws.ec2.Vpc,
        private_subnets: Sequence[aws.ec2.Subnet],
        private_tables: Sequence[aws.ec2.RouteTable],
        child: pulumi.ResourceOptions,
    ) -> None:
        """The S3 gateway endpoint and the interface endpoints, reachable over HTTPS in the VPC."""
        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            # ECR stores image layers in S3.
            route_table_ids=[table.id for table in private_tables],
            opts=child,
        )
        endpoint_sg = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg",
            vpc_id=vpc.id,
            description="Interface VPC endpoints: HTTPS from inside the VPC",
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-endpoints-https",
            security_group_id=endpoint_sg.id,
            description="HTTPS to the AWS APIs from resources in this VPC",
            ip_protocol="tcp",
            from_port=HTTPS_PORT,
            to_port=HTTPS_PORT,
            cidr_ipv4=args.vpc_cidr,
            opts=child,
        )
        for service in INTERFACE_ENDPOINTS:
            aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}",
                vpc_id=vpc.id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[subnet.id for subnet in private_subnets],
                security_group_ids=[endpoint_sg.id],
                opts=child,
            )

    def _flow_logs(
        self,
        name: str,
        args: NetworkArgs,
        vpc: aws.ec2.Vpc,
        child: pulumi.ResourceOptions,
    ) -> None:
        """VPC Flow Logs of all traffic to a CloudWatch log group, through a scoped role."""
        account_id = aws.get_caller_identity(opts=pulumi.InvokeOptions(parent=self)).account_id
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs",
            description="Lets VPC Flow Logs write to its CloudWatch log group",
            # The source-account condition stops other accounts using this role
            # through the service (confused deputy).
            assume_role_policy=iam.to_json(
                iam.assume_role_policy(
                    "vpc-flow-logs.amazonaws.com",
                    condition={"StringEquals": {"aws:SourceAccount": account_id}},
                )
            ),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=role.id,
            policy=log_group.arn.apply(
                lambda arn: iam.to_json(iam.flow_logs_policy(arn, args.region, account_id))
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            opts=child,
        )
