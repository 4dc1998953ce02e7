"""The architecture picture: one small Mermaid flowchart per compute shape, read from a mocked run.

Where ``infra/tooling/plan.py`` draws every resource (about 75 nodes), this
draws what a reader needs first, in request order: the client, the entry
point (ALB in the public subnets, or the API Gateway HTTP API, which AWS runs
outside the VPC), the compute in the private subnets (Fargate tasks, or the
Lambda function's ``live`` alias and the RDS Proxy), PostgreSQL and Redis, and
how the compute reaches the AWS APIs it calls (NAT gateways and/or VPC
endpoints), inside a VPC subgraph with nested public and private subnets.

Nothing is a template with names filled in. Every node stands for registered
resources: subnets are public or private by their route table's default
route (internet gateway or NAT), NAT gateways and endpoints are counted, an
RDS Proxy appears when there is one, the listeners come from the ALB's
listeners. Every network arrow carries the ports of the security-group rules
that allow it (ingress rules naming the peer's group, or an address range),
and drawing an arrow no rule allows is an error. Which AWS APIs travel
through the VPC is read from the compute resources too: a Fargate task pulls
its image, ships its logs and reads its secrets through its own network
interface (the container definition's image, awslogs driver and SSM
secrets); a Lambda function reads SSM itself at cold start (its
``*_SSM_PARAMETER`` variables), while its image and its logs are handled by
the Lambda service, outside the VPC (dashed arrows).

``python -m infra.tooling.plan --all`` writes the diagrams to
``docs/diagrams/architecture-<compute>.mmd`` and embeds them, with a dev/prod
table from the same runs, into README.md between ``<!-- generated: NAME -->``
and ``<!-- /generated -->`` markers (tests/infra/tooling/test_architecture.py
checks both are current).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from infra.tooling.mocks import REPO_ROOT, ResourceRecord, StackResult, run_stack

COMPUTES: Final = ("fargate", "lambda")
# The README shows the prod stack: all of its AZs, NAT per AZ, HTTPS.
DIAGRAM_STACK: Final = "prod"
TABLE_STACKS: Final = ("dev", "prod")
DEFAULT_OUT: Final = REPO_ROOT / "docs" / "diagrams"
README_PATH: Final = REPO_ROOT / "README.md"
REFRESH_COMMAND: Final = ".venv/bin/python -m infra.tooling.plan --all --quiet"
MAX_NODES: Final = 20
WORLD: Final = "0.0.0.0/0"

SUBNET: Final = "aws:ec2/subnet:Subnet"
ROUTE: Final = "aws:ec2/route:Route"
ASSOCIATION: Final = "aws:ec2/routeTableAssociation:RouteTableAssociation"
IGW: Final = "aws:ec2/internetGateway:InternetGateway"
NAT: Final = "aws:ec2/natGateway:NatGateway"
VPC: Final = "aws:ec2/vpc:Vpc"
ENDPOINT: Final = "aws:ec2/vpcEndpoint:VpcEndpoint"
SECURITY_GROUP: Final = "aws:ec2/securityGroup:SecurityGroup"
INGRESS: Final = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS: Final = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
ALB: Final = "aws:lb/loadBalancer:LoadBalancer"
LISTENER: Final = "aws:lb/listener:Listener"
ECS_SERVICE: Final = "aws:ecs/service:Service"
TASK_DEFINITION: Final = "aws:ecs/taskDefinition:TaskDefinition"
SCALING_TARGET: Final = "aws:appautoscaling/target:Target"
HTTP_API: Final = "aws:apigatewayv2/api:Api"
INTEGRATION: Final = "aws:apigatewayv2/integration:Integration"
STAGE: Final = "aws:apigatewayv2/stage:Stage"
FUNCTION: Final = "aws:lambda/function:Function"
ALIAS: Final = "aws:lambda/alias:Alias"
PROXY: Final = "aws:rds/proxy:Proxy"
DATABASE: Final = "aws:rds/instance:Instance"
REDIS: Final = "aws:elasticache/replicationGroup:ReplicationGroup"
LOG_GROUP: Final = "aws:cloudwatch/logGroup:LogGroup"
FLOW_LOG: Final = "aws:ec2/flowLog:FlowLog"

# The AWS APIs drawn, and the endpoint services that keep each inside the VPC
# (ECR serves image layers from S3: a pull needs the S3 gateway endpoint too).
SERVICES: Final[Mapping[str, tuple[str, tuple[str, ...]]]] = {
    "ecr": ("Amazon ECR", ("ecr.api", "ecr.dkr", "s3")),
    "ssm": ("SSM Parameter Store", ("ssm",)),
    "logs": ("CloudWatch Logs", ("logs",)),
}
# What each API call is for, per shape (the arrow's label past the NAT).
PURPOSE: Final[Mapping[str, Mapping[str, str]]] = {
    "fargate": {"ecr": "image pull", "ssm": "secrets", "logs": "logs"},
    "lambda": {"ssm": "secrets, at cold start"},
}


class ArchitectureError(ValueError):
    """The run does not have what the picture needs (or an arrow no rule allows)."""


# ------------------------------------------------------------------- reading


def _deps(record: ResourceRecord, key: str) -> tuple[str, ...]:
    return record.property_dependencies.get(key, ())


def _all_deps(record: ResourceRecord) -> set[str]:
    return {urn for urns in record.property_dependencies.values() for urn in urns}


def _number(value: Any) -> int:
    return int(float(value))


def _days(value: Any) -> str:
    days = _number(value)
    return f"{days} day" if days == 1 else f"{days} days"


def _az_suffix(zones: Iterable[str]) -> str:
    """``eu-west-1a, eu-west-1b`` -> ``1a, 1b`` (the region is said elsewhere)."""
    return ", ".join(zone.rsplit("-", 1)[-1] for zone in sorted(zones))


@dataclass(frozen=True)
class Network:
    """Subnets by role, NAT gateways, endpoints and the VPC, as the run registered them."""

    cidr: str
    public: Mapping[str, str]  # subnet URN -> AZ
    private: Mapping[str, str]
    nat_zones: tuple[str, ...]  # one AZ per NAT gateway
    endpoints: Mapping[str, ResourceRecord]  # short service name (ecr.api, s3…) -> endpoint
    has_igw: bool
    flow_logs: bool

    @property
    def zones(self) -> tuple[str, ...]:
        """Every AZ with a subnet."""
        return tuple(sorted(set(self.public.values()) | set(self.private.values())))


def read_network(result: StackResult) -> Network:
    """Classify subnets by their route table's default route and collect NAT and endpoints."""
    types = {record.urn: record.type for record in result.resources}
    default_target: dict[str, str] = {}  # route table URN -> IGW or NAT type
    for route in result.find(ROUTE):
        if route.inputs.get("destinationCidrBlock") != WORLD:
            continue
        for key in ("gatewayId", "natGatewayId"):
            for target in _deps(route, key):
                for table in _deps(route, "routeTableId"):
                    default_target[table] = types[target]
    public: dict[str, str] = {}
    private: dict[str, str] = {}
    for association in result.find(ASSOCIATION):
        for subnet_urn in _deps(association, "subnetId"):
            tables = _deps(association, "routeTableId")
            zone = str(result.by_urn(subnet_urn).inputs["availabilityZone"])
            if any(default_target.get(table) == IGW for table in tables):
                public[subnet_urn] = zone
            else:
                private[subnet_urn] = zone
    zone_of = {**public, **private}
    nat_zones = tuple(
        sorted(zone_of[urn] for nat in result.find(NAT) for urn in _deps(nat, "subnetId"))
    )
    # com.amazonaws.<region>.<service>
    endpoints = {
        str(endpoint.inputs["serviceName"]).split(".", 3)[-1]: endpoint
        for endpoint in result.find(ENDPOINT)
    }
    vpc = result.one(VPC)
    return Network(
        cidr=str(vpc.inputs["cidrBlock"]),
        public=public,
        private=private,
        nat_zones=nat_zones,
        endpoints=dict(sorted(endpoints.items())),
        has_igw=bool(result.find(IGW)),
        flow_logs=bool(result.find(FLOW_LOG)),
    )


@dataclass(frozen=True)
class Rule:
    """One security-group rule: who may talk to whom on which ports."""

    group: str  # the rule's own security group URN
    peer: str | None  # the referenced security group URN
    cidr: str | None
    ports: tuple[int, int]


def read_rules(result: StackResult) -> tuple[list[Rule], list[Rule]]:
    """Ingress and egress rules (``aws:vpc/securityGroup*Rule``, the program's only kind)."""

    def rules(type_: str) -> list[Rule]:
        found = []
        for record in result.find(type_):
            (group,) = _deps(record, "securityGroupId")
            peers = _deps(record, "referencedSecurityGroupId")
            found.append(
                Rule(
                    group=group,
                    peer=peers[0] if peers else None,
                    cidr=record.inputs.get("cidrIpv4"),
                    ports=(_number(record.inputs["fromPort"]), _number(record.inputs["toPort"])),
                )
            )
        return found

    return rules(INGRESS), rules(EGRESS)


def _port_text(ports: Iterable[tuple[int, int]]) -> str:
    spans = sorted(set(ports), reverse=True)
    return ", ".join(str(low) if low == high else f"{low}-{high}" for low, high in spans)


# ----------------------------------------------------------------- the model


@dataclass(frozen=True)
class Node:
    """One box: ``place`` is outside, vpc, public or private; ``shape`` a Mermaid bracket pair."""

    id: str
    label: str
    place: str
    shape: tuple[str, str] = ("[", "]")
    groups: frozenset[str] = frozenset()  # security groups of the resource(s)


@dataclass(frozen=True)
class Edge:
    """One arrow; ``dashed`` for what AWS does outside the VPC on the service's behalf."""

    source: str
    target: str
    label: str
    dashed: bool = False


@dataclass
class Architecture:
    """The nodes and arrows of one compute shape, plus the subgraph titles."""

    stack: str
    compute: str
    vpc_title: str
    public_title: str
    private_title: str
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    # Nodes drawn one under the other (invisible links): side by side they
    # would make the picture too wide to read at README width.
    column: list[str] = field(default_factory=list)

    def add(self, node: Node) -> Node:
        """Add a node (ids are unique)."""
        if node.id in self.nodes:
            raise ArchitectureError(f"two nodes with id {node.id!r}")
        self.nodes[node.id] = node
        return node

    def connect(self, source: str, target: str, label: str, *, dashed: bool = False) -> None:
        """Add an arrow between two known nodes."""
        for end in (source, target):
            if end not in self.nodes:
                raise ArchitectureError(f"arrow to unknown node {end!r}")
        self.edges.append(Edge(source, target, label, dashed))


@dataclass(frozen=True)
class _Box:
    """Endpoints drawn as one node: their short service names and records."""

    id: str
    title: str
    endpoints: Mapping[str, ResourceRecord]


class _Reader:
    """Turns one mocked run into an :class:`Architecture`."""

    def __init__(self, result: StackResult, compute: str) -> None:
        self.result = result
        self.compute = compute
        self.network = read_network(result)
        self.ingress, self.egress = read_rules(result)
        self.group_urns = {record.urn for record in result.find(SECURITY_GROUP)}

    # ------------------------------------------------------------- facts

    def groups(self, *records: ResourceRecord) -> frozenset[str]:
        """The security groups these resources reference (any input)."""
        return frozenset(
            urn for record in records for urn in _all_deps(record) if urn in self.group_urns
        )

    def place(self, record: ResourceRecord) -> str:
        """public, private or outside: the subnets the resource (or its subnet group) names."""
        subnets: set[str] = set()
        for urn in _all_deps(record):
            referenced = self.result.by_urn(urn)
            if referenced.type == SUBNET:
                subnets.add(urn)
            elif referenced.type.endswith("subnetGroup:SubnetGroup"):
                subnets |= {dep for dep in _all_deps(referenced) if dep in self.network.private}
                subnets |= {dep for dep in _all_deps(referenced) if dep in self.network.public}
        if not subnets:
            return "outside"
        if subnets <= set(self.network.public):
            return "public"
        if subnets <= set(self.network.private):
            return "private"
        raise ArchitectureError(f"{record.name} spans public and private subnets")

    def node(
        self,
        node_id: str,
        label: str,
        *records: ResourceRecord,
        shape: tuple[str, str] = ("[", "]"),
    ) -> Node:
        """A node for resources in the network: placed by their subnets, with their groups."""
        places = {self.place(record) for record in records}
        if len(places) != 1:
            raise ArchitectureError(f"{node_id} stands for resources in {sorted(places)}")
        return Node(node_id, label, places.pop(), shape, self.groups(*records))

    def allowed(self, source: Node, target: Node) -> str:
        """Ports the target's groups admit from the source's groups, and the source's let out."""
        inbound = [
            rule.ports
            for rule in self.ingress
            if rule.group in target.groups and rule.peer in source.groups
        ]
        outbound = {
            rule.ports
            for rule in self.egress
            if rule.group in source.groups and (rule.peer in target.groups or rule.cidr == WORLD)
        }
        ports = [span for span in inbound if span in outbound]
        if not ports:
            raise ArchitectureError(
                f"no security-group rules let {source.id} reach {target.id}: the picture "
                "would draw a path the network refuses"
            )
        return _port_text(ports)

    def from_anywhere(self, target: Node) -> str:
        """Ports the target's groups admit from the whole internet."""
        ports = [
            rule.ports
            for rule in self.ingress
            if rule.group in target.groups and rule.cidr == WORLD
        ]
        if not ports:
            raise ArchitectureError(f"{target.id} admits nothing from the internet")
        return _port_text(ports)

    def to_anywhere(self, source: Node) -> str:
        """Ports the source's groups let out to any address (the AWS APIs' public endpoints)."""
        ports = [
            rule.ports for rule in self.egress if rule.group in source.groups and rule.cidr == WORLD
        ]
        if not ports:
            raise ArchitectureError(f"{source.id} may not reach the AWS APIs: no egress rule")
        return _port_text(ports)

    def to_endpoints(self, source: Node, endpoints: Iterable[ResourceRecord]) -> str:
        """Ports the endpoints' groups admit from the VPC's range that the source lets out."""
        groups = self.groups(*endpoints)
        if not groups:  # gateway endpoints: a route, no security group of their own
            return self.to_anywhere(source)
        inbound = [
            rule.ports
            for rule in self.ingress
            if rule.group in groups and rule.cidr == self.network.cidr
        ]
        outbound = {rule.ports for rule in self.egress if rule.group in source.groups}
        ports = [span for span in inbound if span in outbound]
        if not ports:
            raise ArchitectureError(f"no security-group rules let {source.id} reach the endpoints")
        return _port_text(ports)

    # ---------------------------------------------------------- building

    def build(self) -> Architecture:
        """Entry, compute, data, then the way out to the AWS APIs."""
        network = self.network
        public_zones = set(network.public.values())
        private_zones = set(network.private.values())
        arch = Architecture(
            stack=self.result.stack,
            compute=self.compute,
            vpc_title=f"VPC {network.cidr}, {len(network.zones)} AZs"
            + (", flow logs" if network.flow_logs else ""),
            public_title=f"{len(network.public)} public subnets ({_az_suffix(public_zones)})",
            private_title=f"{len(network.private)} private subnets ({_az_suffix(private_zones)})",
        )
        arch.add(Node("client", "Client<br/>(internet)", "outside", ("([", "])")))
        if self.compute == "fargate":
            compute, record = self._fargate(arch)
            inside, on_behalf = self._fargate_apis(record), set[str]()
        elif self.compute == "lambda":
            compute, record = self._lambda(arch)
            inside, on_behalf = self._lambda_apis(record)
        else:
            raise ArchitectureError(f"unknown compute shape {self.compute!r}")
        self._data(arch, compute)
        self._aws_apis(arch, compute, inside, on_behalf)
        return arch

    def _fargate(self, arch: Architecture) -> tuple[Node, ResourceRecord]:
        result = self.result
        listeners = []
        for listener in sorted(result.find(LISTENER), key=lambda r: -_number(r.inputs["port"])):
            action = (listener.inputs.get("defaultActions") or [{}])[0]
            text = f"{listener.inputs['protocol']} :{_number(listener.inputs['port'])}"
            if action.get("type") == "redirect":
                text += f" → :{(action.get('redirect') or {}).get('port', '?')}"
            listeners.append(text)
        alb = arch.add(
            self.node(
                "alb", "Application Load Balancer<br/>" + "<br/>".join(listeners), result.one(ALB)
            )
        )
        arch.connect("client", alb.id, self.from_anywhere(alb))

        service = result.one(ECS_SERVICE)
        task = result.one(TASK_DEFINITION)
        count = str(_number(service.inputs["desiredCount"]))
        for scaling in result.find(SCALING_TARGET):
            low, high = (_number(scaling.inputs[key]) for key in ("minCapacity", "maxCapacity"))
            count = f"{low}-{high}" if low != high else str(low)
        cpu = _number(task.inputs["cpu"]) / 1024
        memory = _number(task.inputs["memory"]) / 1024
        tasks = arch.add(
            self.node(
                "tasks",
                f"ECS Fargate: {count} tasks<br/>{cpu:g} vCPU, {memory:g} GB each",
                service,
            )
        )
        arch.connect(alb.id, tasks.id, self.allowed(alb, tasks))
        return tasks, task

    def _lambda(self, arch: Architecture) -> tuple[Node, ResourceRecord]:
        result = self.result
        alias = result.one(ALIAS)
        (function_urn,) = _deps(alias, "functionName")
        function = result.by_urn(function_urn)
        integration = result.one(INTEGRATION)
        if alias.urn not in _deps(integration, "integrationUri"):
            raise ArchitectureError("the HTTP API does not invoke the alias")
        throttle = result.one(STAGE).inputs.get("defaultRouteSettings") or {}
        label = "API Gateway HTTP API"
        if throttle.get("throttlingRateLimit") is not None:
            label += f"<br/>{_number(throttle['throttlingRateLimit'])} req/s"
        # AWS runs the HTTP API outside the VPC: it reaches the function through the
        # Lambda API, so no security group or subnet is in between.
        api = arch.add(self.node("api", label, result.one(HTTP_API)))
        arch.connect("client", api.id, "HTTPS")
        concurrency = _number(function.inputs.get("reservedConcurrentExecutions", -1))
        reserved = f", {concurrency} reserved" if concurrency >= 0 else ""
        fn = arch.add(
            self.node(
                "fn",
                f"Lambda function, alias {alias.inputs['name']}<br/>"
                f"{_number(function.inputs['memorySize'])} MB{reserved}",
                function,
            )
        )
        arch.connect(api.id, fn.id, f"invoke ({integration.inputs['integrationType']})")
        return fn, function

    def _data(self, arch: Architecture, compute: Node) -> None:
        result = self.result
        database = result.one(DATABASE)
        multi_az = "Multi-AZ" if database.inputs.get("multiAz") else "single-AZ"
        db = arch.add(
            self.node(
                "db",
                f"RDS PostgreSQL {database.inputs['engineVersion']}<br/>"
                f"{database.inputs['instanceClass']}, {multi_az}",
                database,
                shape=("[(", ")]"),
            )
        )
        proxies = result.find(PROXY)
        if proxies:
            proxy = arch.add(self.node("proxy", "RDS Proxy", *proxies))
            arch.connect(compute.id, proxy.id, self.allowed(compute, proxy))
            arch.connect(proxy.id, db.id, self.allowed(proxy, db))
        else:
            arch.connect(compute.id, db.id, self.allowed(compute, db))
        redis = result.one(REDIS)
        nodes = _number(redis.inputs["numCacheClusters"])
        cache = arch.add(
            self.node(
                "cache",
                f"ElastiCache Redis {redis.inputs['engineVersion']}<br/>"
                f"{nodes} {'node' if nodes == 1 else 'nodes'}, {redis.inputs['nodeType']}",
                redis,
                shape=("[(", ")]"),
            )
        )
        arch.connect(compute.id, cache.id, self.allowed(compute, cache))

    @staticmethod
    def _fargate_apis(task: ResourceRecord) -> set[str]:
        """What the task's own network interface carries: image pull, awslogs, SSM secrets."""
        inside: set[str] = set()
        for container in json.loads(task.inputs["containerDefinitions"]):
            if ".dkr.ecr." in str(container.get("image", "")):
                inside.add("ecr")
            if (container.get("logConfiguration") or {}).get("logDriver") == "awslogs":
                inside.add("logs")
            secrets = container.get("secrets") or []
            if any(":ssm:" in str(secret.get("valueFrom")) for secret in secrets):
                inside.add("ssm")
        return inside

    @staticmethod
    def _lambda_apis(function: ResourceRecord) -> tuple[set[str], set[str]]:
        """SSM from the function itself; its image and logs by the Lambda service."""
        variables = (function.inputs.get("environment") or {}).get("variables") or {}
        inside = {"ssm"} if any(key.endswith("_SSM_PARAMETER") for key in variables) else set()
        on_behalf = set()
        if function.inputs.get("packageType") == "Image":
            on_behalf.add("ecr")
        if function.inputs.get("loggingConfig"):
            on_behalf.add("logs")
        return inside, on_behalf

    def _aws_apis(
        self, arch: Architecture, compute: Node, inside: set[str], on_behalf: set[str]
    ) -> None:
        result = self.result
        for key, (title, _) in SERVICES.items():
            if key in inside or key in on_behalf:
                arch.add(Node(key, title, "outside"))
                arch.column.append(key)
        nat: Node | None = None
        if self.network.nat_zones:
            # One box for all of them (a narrow picture); the label counts them.
            count = len(self.network.nat_zones)
            title = "NAT gateway" if count == 1 else f"{count} NAT gateways"
            label = f"{title}<br/>({_az_suffix(self.network.nat_zones)})"
            nat = arch.add(self.node("nat", label, *result.find(NAT)))
        # Interface endpoints in one box, gateway endpoints (a route, no network
        # interface) in another: again a narrow picture.
        boxes: list[_Box] = []
        for kind, node_id in (("Interface", "vpce"), ("Gateway", "vpce_gw")):
            endpoints = {
                name: record
                for name, record in self.network.endpoints.items()
                if record.inputs.get("vpcEndpointType") == kind
            }
            if endpoints:
                noun = "endpoint" if len(endpoints) == 1 else "endpoints"
                title = f"{len(endpoints)} {kind.lower()} {noun}<br/>{', '.join(endpoints)}"
                node = self.node(node_id, title, *endpoints.values())
                if kind == "Gateway":
                    node = replace(node, place="vpc")
                arch.add(node)
                boxes.append(_Box(node_id, title, endpoints))
        for key in SERVICES:
            if key in inside:
                self._route(arch, compute, key, nat, boxes)
        for box in boxes:
            if not any(edge.target == box.id for edge in arch.edges):
                # Registered, but this shape sends nothing through it.
                node = arch.nodes[box.id]
                arch.nodes[box.id] = replace(node, label=f"{node.label}<br/>(unused here)")
        if "ecr" in on_behalf:
            arch.connect("ecr", compute.id, "image, at deploy", dashed=True)
        if "logs" in on_behalf:
            arch.connect(compute.id, "logs", "logs", dashed=True)

    def _route(
        self,
        arch: Architecture,
        compute: Node,
        key: str,
        nat: Node | None,
        boxes: Sequence[_Box],
    ) -> None:
        """Compute -> endpoints -> service where endpoints cover it, else compute -> NAT."""
        needed = SERVICES[key][1]
        purpose = PURPOSE[self.compute][key]
        covering = {
            box.id: [box.endpoints[name] for name in needed if name in box.endpoints]
            for box in boxes
        }
        covering = {box_id: records for box_id, records in covering.items() if records}
        drawn = {(edge.source, edge.target) for edge in arch.edges}
        if sum(len(records) for records in covering.values()) == len(needed):
            for box_id, records in covering.items():
                if (compute.id, box_id) not in drawn:
                    arch.connect(compute.id, box_id, self.to_endpoints(compute, records))
                if box_id == "vpce_gw":  # S3, where ECR keeps image layers
                    if "s3" not in arch.nodes:
                        arch.add(Node("s3", "Amazon S3<br/>(image layers)", "outside"))
                    arch.connect(box_id, "s3", purpose)
                else:
                    arch.connect(box_id, key, purpose)
            return
        if nat is None:
            raise ArchitectureError(f"{compute.id} cannot reach {key}: no NAT and no endpoint")
        if (compute.id, nat.id) not in drawn:
            arch.connect(compute.id, nat.id, self.to_anywhere(compute))
        arch.connect(nat.id, key, purpose)


def architecture(result: StackResult, compute: str) -> Architecture:
    """The architecture of one mocked run (see the module docstring)."""
    return _Reader(result, compute).build()


# --------------------------------------------------------------- rendering


def render(arch: Architecture) -> str:
    """The Mermaid flowchart of an :class:`Architecture`."""
    if len(arch.nodes) > MAX_NODES:
        raise ArchitectureError(
            f"{len(arch.nodes)} nodes in the {arch.compute} picture (at most {MAX_NODES})"
        )
    lines = [
        "%% Generated by `python -m infra.tooling.plan --all` from the mocked program: "
        "do not edit.",
        f"%% stack={arch.stack} compute={arch.compute}; refresh with: {REFRESH_COMMAND}",
        "flowchart TB",
    ]

    def node_line(node: Node, indent: str) -> str:
        opening, closing = node.shape
        return f'{indent}{node.id}{opening}"{node.label}"{closing}'

    def place(name: str, indent: str) -> None:
        lines.extend(node_line(node, indent) for node in arch.nodes.values() if node.place == name)

    place("outside", "  ")
    lines.append(f'  subgraph vpc["{arch.vpc_title}"]')
    place("vpc", "    ")
    lines.append(f'    subgraph public["{arch.public_title}"]')
    place("public", "      ")
    lines.append("    end")
    lines.append(f'    subgraph private["{arch.private_title}"]')
    place("private", "      ")
    lines.append("    end")
    lines.append("  end")
    if len(arch.column) > 1:
        lines.append("  " + " ~~~ ".join(arch.column))
    for edge in arch.edges:
        arrow = "-.->" if edge.dashed else "-->"
        label = f'|"{edge.label}"|' if edge.label else ""
        lines.append(f"  {edge.source} {arrow}{label} {edge.target}")
    return "\n".join(lines) + "\n"


def count_nodes(diagram: str) -> int:
    """Node definitions in a Mermaid flowchart (``id[...]``, ``id([...])``…; not subgraphs)."""
    return len(
        {
            match.group(1)
            for match in re.finditer(r"^\s*(\w+)[\[\(]", diagram, flags=re.MULTILINE)
            if match.group(1) != "subgraph"
        }
    )


# ---------------------------------------------------------------- the README

_BLOCK = re.compile(
    r"(<!-- generated: (?P<name>[a-z0-9-]+) -->\n)(?P<body>.*?)(<!-- /generated -->)", re.DOTALL
)


def embed(readme: str, blocks: Mapping[str, str]) -> str:
    """``readme`` with each ``<!-- generated: NAME -->`` block replaced by ``blocks[NAME]``."""
    found: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in blocks:
            raise ArchitectureError(f"README.md has a generated block {name!r} nobody generates")
        found.add(name)
        return f"{match.group(1)}{blocks[name].rstrip()}\n{match.group(4)}"

    updated = _BLOCK.sub(replace, readme)
    missing = sorted(set(blocks) - found)
    if missing:
        raise ArchitectureError(f"README.md has no '<!-- generated: NAME -->' block for {missing}")
    return updated


def diagram_path(out: Path, compute: str) -> Path:
    """Where the architecture diagram of one compute shape is written."""
    return out / f"architecture-{compute}.mmd"


def generate(build: Callable[[str, str], StackResult]) -> dict[str, str]:
    """Every generated text: ``architecture-<compute>`` diagrams and the ``dev-prod`` table."""
    runs = {
        (stack, compute): build(stack, compute) for stack in TABLE_STACKS for compute in COMPUTES
    }
    texts = {
        f"architecture-{compute}": render(architecture(runs[(DIAGRAM_STACK, compute)], compute))
        for compute in COMPUTES
    }
    # Imported here: the table module reads its facts with this module's readers.
    from infra.tooling.stack_table import render_table

    texts["dev-prod"] = render_table(runs)
    return texts


def readme_blocks(texts: Mapping[str, str]) -> dict[str, str]:
    """What goes between the README's markers: diagrams in ``mermaid`` fences, the table as is."""
    return {
        name: f"```mermaid\n{text.rstrip()}\n```" if name.startswith("architecture-") else text
        for name, text in texts.items()
    }


def refresh(
    out: Path = DEFAULT_OUT,
    readme: Path | None = README_PATH,
    build: Callable[[str, str], StackResult] = run_stack,
) -> list[Path]:
    """Write ``<out>/architecture-<compute>.mmd`` and refresh README.md's generated blocks."""
    texts = generate(build)
    written = []
    out.mkdir(parents=True, exist_ok=True)
    for compute in COMPUTES:
        path = diagram_path(out, compute)
        path.write_text(texts[f"architecture-{compute}"], encoding="utf-8")
        written.append(path)
    if readme is not None:
        readme.write_text(
            embed(readme.read_text(encoding="utf-8"), readme_blocks(texts)), encoding="utf-8"
        )
        written.append(readme)
    return written
