"""Run the real Pulumi program offline, under mocks, and record what it registers.

``run_stack("prod", compute="lambda", azCount=2)`` loads the project defaults
from ``Pulumi.yaml``, the stack's ``Pulumi.<stack>.yaml`` and the overrides
(exactly as the CLI layers them), runs ``infra/__main__.py`` with
``runpy.run_path`` (as the Python language host does) under mocks that fill
computed outputs realistically, and returns a ``StackResult`` whose resources
carry their inputs, outputs, parent, dependencies and resource options
(captured from the registration requests the engine would receive).

The tests (tests/infra/harness.py) and the offline plan (infra/tooling/plan.py) share
this module. It imports nothing from ``infra`` on purpose: the harness loads
it by path when it proves the program does not need the repository root on
``sys.path``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import random
import runpy
import string
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.sync_await import _sync_await

REPO_ROOT = Path(__file__).resolve().parents[2]
PROGRAM = REPO_ROOT / "infra" / "__main__.py"
PROJECT = "fastapi-on-aws"
ACCOUNT_ID = "123456789012"
REGION = "eu-west-1"
AVAILABILITY_ZONES = ("eu-west-1a", "eu-west-1b", "eu-west-1c")


class HarnessError(AssertionError):
    """The program failed under mocks, or asked for something the mocks cannot answer."""


# --------------------------------------------------------------------- config


def _config_string(value: object) -> str:
    """Pulumi hands every config value to the program as a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def project_defaults() -> dict[str, object]:
    """``{namespaced key: default}`` from the ``config:`` schema of Pulumi.yaml."""
    project = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
    return {
        f"{PROJECT}:{key}": spec["default"]
        for key, spec in project.get("config", {}).items()
        if isinstance(spec, dict) and "default" in spec
    }


def stack_file_config(stack: str) -> dict[str, object]:
    """``{namespaced key: value}`` from ``Pulumi.<stack>.yaml``."""
    document = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())
    return dict(document.get("config") or {})


def layered_config(
    stack: str, compute: str | None = None, overrides: Mapping[str, object] | None = None
) -> dict[str, str]:
    """Defaults, then the stack file, then ``compute`` and overrides (None deletes a key)."""
    merged: dict[str, object] = {**project_defaults(), **stack_file_config(stack)}
    extra: dict[str, object] = dict(overrides or {})
    if compute is not None:
        extra["compute"] = compute
    for key, value in extra.items():
        full_key = key if ":" in key else f"{PROJECT}:{key}"
        if value is None:
            merged.pop(full_key, None)
        else:
            merged[full_key] = value
    return {key: _config_string(value) for key, value in merged.items()}


# ---------------------------------------------------------------------- mocks


def _hex(*parts: str, length: int = 17) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:length]


_EC2_ID_PREFIX = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg",
    "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/natGateway:NatGateway": "nat",
    "aws:ec2/eip:Eip": "eipalloc",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
    "aws:ec2/flowLog:FlowLog": "fl",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr",
}


@dataclass
class _Registration:
    """A custom resource being registered: what the output fillers read and complete."""

    typ: str
    name: str
    # The inputs with secrets unwrapped, to compute from.
    inputs: dict[str, Any]
    # What the engine will hold as outputs: the inputs (secrets still wrapped)
    # plus what AWS would compute; the fillers add to it.
    state: dict[str, Any]
    # The physical name: the ``name`` input, or an autoname like the engine's.
    physical: str
    resource_id: str
    secret_salt: str
    # The resource's outputs in the previous deploy of a sequence, if any.
    prior: Mapping[str, Any] | None

    @property
    def kind(self) -> str:
        """The type's last segment (``Vpc`` of ``aws:ec2/vpc:Vpc``)."""
        return self.typ.split(":")[-1]


def _password(name: str, inputs: Mapping[str, Any], secret_salt: str) -> str:
    """A password drawn from exactly the character set the inputs ask for."""
    length = int(inputs.get("length", 16))
    alphabet = string.ascii_letters + string.digits
    specials = ""
    if inputs.get("special", True):
        specials = inputs.get("overrideSpecial") or "!@#$%&*()-_=+[]{}<>:?"
    # Deterministic on purpose: mocked stacks must be reproducible.
    # Keepers take part like a replacement would: a new revision, a new value.
    keepers = json.dumps(inputs.get("keepers") or {}, sort_keys=True)
    seed = f"{name}\0{secret_salt}" + (f"\0{keepers}" if keepers != "{}" else "")
    rng = random.Random(seed)  # noqa: S311
    chars = [rng.choice(alphabet + specials) for _ in range(length)]
    if specials:
        chars[rng.randrange(length)] = rng.choice(specials)
    return "".join(chars)


def _fill_random_password(r: _Registration) -> None:
    result = _password(r.name, r.inputs, r.secret_salt)
    r.state["result"] = rpc.wrap_rpc_secret(result)
    r.state["bcryptHash"] = rpc.wrap_rpc_secret("$2a$10$" + _hex(result, length=53))
    r.resource_id = "none"


def _fill_user_pool_client(r: _Registration) -> None:
    if r.inputs.get("generateSecret"):  # Cognito generates it: a secret, like a password
        r.state["clientSecret"] = rpc.wrap_rpc_secret(_hex(r.name, r.secret_salt, length=51))


def _fill_random_id(r: _Registration) -> None:
    # Deterministic per logical name and keepers, like a replacement
    # on a keeper change: other keepers give other bytes.
    seed = json.dumps([r.name, r.inputs.get("keepers") or {}, r.secret_salt], sort_keys=True)
    raw = hashlib.sha256(seed.encode()).digest()[: int(r.inputs["byteLength"])]
    r.state["hex"] = raw.hex()
    r.state["b64Url"] = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    r.state["b64Std"] = base64.b64encode(raw).decode()
    r.state["dec"] = str(int.from_bytes(raw, "big"))
    r.state.pop("arn", None)
    r.resource_id = r.state["b64Url"]


def _fill_docker_image(r: _Registration) -> None:
    image_name = str(r.inputs.get("imageName", r.name))
    repository = image_name.rsplit(":", 1)[0]
    digest = "sha256:" + hashlib.sha256(image_name.encode()).hexdigest()
    r.state["repoDigest"] = f"{repository}@{digest}"
    r.state["baseImageName"] = image_name
    r.state["registryServer"] = repository.split("/")[0]
    r.resource_id = digest


def _fill_ecr_repository(r: _Registration) -> None:
    r.state["registryId"] = ACCOUNT_ID
    r.state["repositoryUrl"] = f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/{r.physical}"
    r.state["arn"] = f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/{r.physical}"


def _fill_ssm_parameter(r: _Registration) -> None:
    r.state["arn"] = f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{r.inputs['name']}"
    # SSM's version: 1 when created, one more on every change of the value.
    version = 1
    if r.prior is not None:
        version = int(r.prior.get("version", 1))
        if r.prior.get("value") != r.inputs.get("value"):
            version += 1
    r.state["version"] = version


def _fill_log_group(r: _Registration) -> None:
    r.state["arn"] = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{r.physical}"


def _fill_iam_role(r: _Registration) -> None:
    path = r.inputs.get("path") or "/"
    r.state["arn"] = f"arn:aws:iam::{ACCOUNT_ID}:role{path}{r.physical}"
    r.state["uniqueId"] = "AROA" + _hex(r.name).upper()


def _fill_iam_policy(r: _Registration) -> None:
    r.state["arn"] = f"arn:aws:iam::{ACCOUNT_ID}:policy/{r.physical}"


def _fill_s3_bucket(r: _Registration) -> None:
    # S3 names are global: a bucket_prefix gets 26 generated characters.
    bucket = r.inputs.get("bucket") or (
        f"{r.inputs['bucketPrefix']}{_hex(r.typ, r.name, length=26)}"
        if r.inputs.get("bucketPrefix")
        else f"{r.name}-{_hex(r.typ, r.name, length=7)}"
    )
    r.state.update(
        bucket=bucket,
        arn=f"arn:aws:s3:::{bucket}",
        bucketDomainName=f"{bucket}.s3.amazonaws.com",
        bucketRegionalDomainName=f"{bucket}.s3.{REGION}.amazonaws.com",
        region=REGION,
    )
    r.state.pop("name", None)
    r.resource_id = bucket


def _fill_s3_bucket_part(r: _Registration) -> None:
    # Bucket sub-resources are identified by their bucket and have no ARN.
    r.state.pop("arn", None)
    r.state.pop("name", None)
    r.resource_id = str(r.inputs.get("bucket") or r.physical)


def _fill_rds_instance(r: _Registration) -> None:
    identifier = r.inputs.get("identifier") or r.physical
    address = f"{identifier}.c{_hex(r.name, length=11)}.{REGION}.rds.amazonaws.com"
    r.state.update(
        identifier=identifier,
        address=address,
        endpoint=f"{address}:{r.inputs.get('port', 5432)}",
        arn=f"arn:aws:rds:{REGION}:{ACCOUNT_ID}:db:{identifier}",
        resourceId="db-" + _hex(r.name, length=26).upper(),
    )
    r.resource_id = identifier


def _fill_rds_proxy(r: _Registration) -> None:
    r.state["endpoint"] = (
        f"{r.physical}.proxy-c{_hex(r.name, length=11)}.{REGION}.rds.amazonaws.com"
    )
    r.state["arn"] = f"arn:aws:rds:{REGION}:{ACCOUNT_ID}:db-proxy:prx-{_hex(r.name)}"


def _fill_replication_group(r: _Registration) -> None:
    group_id = r.inputs.get("replicationGroupId") or r.physical
    host = f"{group_id}.{_hex(r.name, length=6)}.euw1.cache.amazonaws.com"
    r.state.update(
        replicationGroupId=group_id,
        primaryEndpointAddress=f"master.{host}",
        readerEndpointAddress=f"replica.{host}",
        arn=f"arn:aws:elasticache:{REGION}:{ACCOUNT_ID}:replicationgroup:{group_id}",
    )
    r.resource_id = group_id


def _fill_load_balancer(r: _Registration) -> None:
    suffix = f"app/{r.physical}/{_hex(r.name, length=16)}"
    r.state.update(
        arn=f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:loadbalancer/{suffix}",
        arnSuffix=suffix,
        dnsName=f"{r.physical}-{_hex(r.name, length=10)}.{REGION}.elb.amazonaws.com",
        zoneId="Z32O12XQLNTSW2",
    )


def _fill_target_group(r: _Registration) -> None:
    suffix = f"targetgroup/{r.physical}/{_hex(r.name, length=16)}"
    r.state.update(
        arn=f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:{suffix}",
        arnSuffix=suffix,
    )


def _fill_listener(r: _Registration) -> None:
    r.state["arn"] = (
        f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:listener/app/"
        f"{r.physical}/{_hex(r.name, length=16)}"
    )


def _fill_ecs_cluster(r: _Registration) -> None:
    r.state["arn"] = f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:cluster/{r.physical}"


def _fill_task_definition(r: _Registration) -> None:
    family = r.inputs.get("family") or r.physical
    r.state.update(
        revision=1,
        arn=f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:task-definition/{family}:1",
        arnWithoutRevision=f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:task-definition/{family}",
    )


def _fill_ecs_service(r: _Registration) -> None:
    r.state["arn"] = f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service/{r.physical}"


def _fill_lambda_function(r: _Registration) -> None:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{r.physical}"
    invocations = f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions"
    r.state.update(
        arn=arn,
        qualifiedArn=f"{arn}:1",
        version="1",
        invokeArn=f"{invocations}/{arn}/invocations",
        qualifiedInvokeArn=f"{invocations}/{arn}:1/invocations",
    )


def _fill_http_api(r: _Registration) -> None:
    api_id = _hex(r.name, length=10)
    r.state.update(
        apiEndpoint=f"https://{api_id}.execute-api.{REGION}.amazonaws.com",
        executionArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api_id}",
        arn=f"arn:aws:apigateway:{REGION}::/apis/{api_id}",
    )
    r.resource_id = api_id


def _fill_api_stage(r: _Registration) -> None:
    stage = r.inputs.get("name", "$default")
    api_id = r.inputs.get("apiId", "api")
    r.state.update(
        invokeUrl=f"https://{api_id}.execute-api.{REGION}.amazonaws.com/"
        + ("" if stage == "$default" else stage),
        executionArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api_id}/{stage}",
    )


def _fill_secret(r: _Registration) -> None:
    suffix = _hex(r.name, length=6)
    r.state["arn"] = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{r.physical}-{suffix}"


def _fill_kms_key(r: _Registration) -> None:
    key_id = f"{_hex(r.name, length=8)}-0000-4000-8000-{_hex(r.name, length=12)}"
    r.state.update(keyId=key_id, arn=f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key_id}")
    r.resource_id = key_id


def _fill_ec2(r: _Registration) -> None:
    r.state["arn"] = f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:{r.kind.lower()}/{r.resource_id}"
    if r.typ == "aws:ec2/vpc:Vpc":
        r.state["defaultSecurityGroupId"] = f"sg-{_hex('default', r.name)}"
        r.state["mainRouteTableId"] = f"rtb-{_hex('main', r.name)}"
    if r.typ == "aws:ec2/eip:Eip":
        r.state["publicIp"] = "203.0.113.10"
        r.state["allocationId"] = r.resource_id


# Per resource type, what completes its outputs beyond the generic name, id and ARN.
_OUTPUT_FILLERS: dict[str, Callable[[_Registration], None]] = {
    "random:index/randomPassword:RandomPassword": _fill_random_password,
    "random:index/randomId:RandomId": _fill_random_id,
    "docker:index/image:Image": _fill_docker_image,
    "aws:ecr/repository:Repository": _fill_ecr_repository,
    "aws:ssm/parameter:Parameter": _fill_ssm_parameter,
    "aws:cloudwatch/logGroup:LogGroup": _fill_log_group,
    "aws:iam/role:Role": _fill_iam_role,
    "aws:iam/policy:Policy": _fill_iam_policy,
    "aws:s3/bucket:Bucket": _fill_s3_bucket,
    "aws:rds/instance:Instance": _fill_rds_instance,
    "aws:rds/proxy:Proxy": _fill_rds_proxy,
    "aws:elasticache/replicationGroup:ReplicationGroup": _fill_replication_group,
    "aws:lb/loadBalancer:LoadBalancer": _fill_load_balancer,
    "aws:lb/targetGroup:TargetGroup": _fill_target_group,
    "aws:lb/listener:Listener": _fill_listener,
    "aws:ecs/cluster:Cluster": _fill_ecs_cluster,
    "aws:ecs/taskDefinition:TaskDefinition": _fill_task_definition,
    "aws:ecs/service:Service": _fill_ecs_service,
    "aws:lambda/function:Function": _fill_lambda_function,
    "aws:apigatewayv2/api:Api": _fill_http_api,
    "aws:apigatewayv2/stage:Stage": _fill_api_stage,
    "aws:secretsmanager/secret:Secret": _fill_secret,
    "aws:kms/key:Key": _fill_kms_key,
    "aws:cognito/userPoolClient:UserPoolClient": _fill_user_pool_client,
}


def _output_filler(typ: str) -> Callable[[_Registration], None] | None:
    """The filler for ``typ``: its own, else the bucket sub-resources' or EC2's shared one."""
    if typ in _OUTPUT_FILLERS:
        return _OUTPUT_FILLERS[typ]
    if typ.startswith("aws:s3/bucket"):
        return _fill_s3_bucket_part
    if typ in _EC2_ID_PREFIX:
        return _fill_ec2
    return None


class RecordingMocks(pulumi.runtime.Mocks):
    """Computed outputs shaped like AWS's, and answers to every invoke the program makes."""

    def __init__(
        self,
        secret_salt: str = "",
        prior: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
    ) -> None:
        self.secret_salt = secret_salt
        # ``{(type, logical name): outputs}`` of the previous deploy in a
        # sequence: what the engine's state would hold before this run.
        self.prior = dict(prior or {})
        self.errors: list[str] = []

    # ---------------------------------------------------------------- invokes

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        """Answer an invoke, or record and raise a clear error naming it."""
        invoke = args.token
        if invoke == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {
                "id": REGION,
                "names": list(AVAILABILITY_ZONES),
                "zoneIds": [f"euw1-az{i + 1}" for i in range(len(AVAILABILITY_ZONES))],
                "state": "available",
                "groupNames": [REGION],
            }
        if invoke == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "id": ACCOUNT_ID,
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/ci",
                "userId": "AIDAEXAMPLEUSERID",
            }
        if invoke == "aws:index/getRegion:getRegion":
            return {
                "id": REGION,
                "name": REGION,
                "region": REGION,
                "description": "Europe (Ireland)",
                "endpoint": f"ec2.{REGION}.amazonaws.com",
            }
        if invoke == "aws:index/getPartition:getPartition":
            return {
                "id": "aws",
                "partition": "aws",
                "dnsSuffix": "amazonaws.com",
                "reverseDnsPrefix": "com.amazonaws",
            }
        if invoke == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            registry = args.args.get("registryId") or ACCOUNT_ID
            return {
                "id": REGION,
                "authorizationToken": "QVdTOm1vY2stZWNyLXBhc3N3b3Jk",
                "expiresAt": "2030-01-01T00:00:00Z",
                "password": "mock-ecr-password",
                "proxyEndpoint": f"https://{registry}.dkr.ecr.{REGION}.amazonaws.com",
                "userName": "AWS",
            }
        message = (
            f"the mocks harness has no answer for invoke {invoke!r} (args {sorted(args.args)}); "
            "add one to RecordingMocks.call in infra/tooling/mocks.py"
        )
        self.errors.append(message)
        raise HarnessError(message)

    # -------------------------------------------------------------- resources

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        """Return a physical id and the inputs plus realistic computed outputs."""
        try:
            return self._new_resource(args)
        except Exception as exc:
            self.errors.append(f"mock for {args.typ} {args.name!r} failed: {exc!r}")
            raise

    def _new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        typ, name = args.typ, args.name
        inputs = {key: rpc.unwrap_rpc_secret(value) for key, value in args.inputs.items()}
        state: dict[str, Any] = dict(args.inputs)
        if not args.custom:
            return f"{name}-component", state

        module = typ.split(":")[1].split("/")[0]
        kind = typ.split(":")[-1]
        # The engine autonames resources; the mocks imitate its name-<7 hex>.
        physical = inputs.get("name") or f"{name}-{_hex(typ, name, length=7)}"
        if "name" not in inputs and typ.startswith("aws:"):
            state["name"] = physical
        resource_id = (
            f"{_EC2_ID_PREFIX[typ]}-{_hex(typ, name)}" if typ in _EC2_ID_PREFIX else physical
        )
        state.setdefault("arn", f"arn:aws:{module}:{REGION}:{ACCOUNT_ID}:{kind.lower()}/{physical}")
        registration = _Registration(
            typ=typ,
            name=name,
            inputs=inputs,
            state=state,
            physical=physical,
            resource_id=resource_id,
            secret_salt=self.secret_salt,
            prior=self.prior.get((typ, name)),
        )
        filler = _output_filler(typ)
        if filler is not None:
            filler(registration)
        return registration.resource_id, registration.state


# ------------------------------------------------------------------ recording


@dataclass
class ResourceRecord:
    """One registered resource with its inputs, computed outputs and options."""

    type: str
    name: str
    urn: str
    id: str
    custom: bool
    inputs: dict[str, Any]
    secret_inputs: frozenset[str]
    outputs: dict[str, Any]
    parent: str | None
    protect: bool
    ignore_changes: tuple[str, ...]
    delete_before_replace: bool
    replace_on_changes: tuple[str, ...]
    depends_on: tuple[str, ...]
    additional_secret_outputs: tuple[str, ...]
    # ``{input key: URNs of the resources that input refers to}``: the edges
    # between resources that policies and the plan's diagram follow.
    property_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The stock mock monitor, plus a record of every registration request."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.records: list[ResourceRecord] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        """Register as usual, then record the request's inputs and options."""
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == "pulumi:pulumi:Stack":
            return response
        raw_inputs = rpc.deserialize_properties(request.object)
        registration = self.resources[response.urn]
        self.records.append(
            ResourceRecord(
                type=request.type,
                name=request.name,
                urn=response.urn,
                id=registration.id,
                custom=bool(request.custom),
                inputs={key: _unwrap(value) for key, value in raw_inputs.items()},
                secret_inputs=frozenset(
                    key for key, value in raw_inputs.items() if rpc.is_rpc_secret(value)
                ),
                outputs={key: _unwrap(value) for key, value in registration.state.items()},
                parent=request.parent or None,
                protect=bool(request.protect),
                ignore_changes=tuple(request.ignoreChanges),
                delete_before_replace=bool(request.deleteBeforeReplace),
                replace_on_changes=tuple(request.replaceOnChanges),
                depends_on=tuple(sorted(set(request.dependencies))),
                additional_secret_outputs=tuple(request.additionalSecretOutputs),
                property_dependencies={
                    key: tuple(sorted(set(deps.urns)))
                    for key, deps in request.propertyDependencies.items()
                    if deps.urns
                },
            )
        )
        return response


def _unwrap(value: Any) -> Any:
    """Remove secret wrappers, recursively (the record keeps which keys were secret)."""
    value = rpc.unwrap_rpc_secret(value)
    if isinstance(value, dict):
        return {key: _unwrap(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unwrap(item) for item in value]
    return value


@dataclass
class StackResult:
    """What one mocked run of the program registered and exported."""

    stack: str
    config: dict[str, str]
    resources: list[ResourceRecord]
    outputs: dict[str, Any]
    secret_outputs: frozenset[str]
    secret_values: tuple[str, ...] = field(default=())

    def find(self, type_: str, name: str | None = None) -> list[ResourceRecord]:
        """Resources of a type token (e.g. ``aws:ec2/vpc:Vpc``), optionally with a name."""
        return [
            record
            for record in self.resources
            if record.type == type_ and (name is None or record.name == name)
        ]

    def one(self, type_: str, name_suffix: str = "") -> ResourceRecord:
        """The single resource of ``type_`` whose logical name ends with ``name_suffix``."""
        matches = [record for record in self.find(type_) if record.name.endswith(name_suffix)]
        if len(matches) != 1:
            names = sorted(record.name for record in self.find(type_))
            raise AssertionError(
                f"expected exactly one {type_} named *{name_suffix}, found {len(matches)}; "
                f"all of that type: {names}"
            )
        return matches[0]

    def by_urn(self, urn: str) -> ResourceRecord:
        """The resource with this URN."""
        for record in self.resources:
            if record.urn == urn:
                return record
        raise KeyError(urn)

    def parent_of(self, record: ResourceRecord) -> ResourceRecord | None:
        """The record of a resource's parent (None for children of the stack)."""
        if record.parent is None or record.parent.endswith("::pulumi:pulumi:Stack"):
            return None
        try:
            return self.by_urn(record.parent)
        except KeyError:
            return None

    def children_of(self, record: ResourceRecord) -> list[ResourceRecord]:
        """Resources whose parent is ``record``."""
        return [child for child in self.resources if child.parent == record.urn]

    def ancestors(self, record: ResourceRecord) -> Iterator[ResourceRecord]:
        """Parent, grandparent, … of a resource."""
        current = self.parent_of(record)
        while current is not None:
            yield current
            current = self.parent_of(current)

    def inside(self, component_type: str, type_: str) -> list[ResourceRecord]:
        """Resources of ``type_`` anywhere under the single component of ``component_type``."""
        component = self.one(component_type)
        return [
            record
            for record in self.find(type_)
            if any(parent.urn == component.urn for parent in self.ancestors(record))
        ]

    @property
    def custom_resources(self) -> list[ResourceRecord]:
        """Only the resources a provider manages (no components)."""
        return [record for record in self.resources if record.custom]


# -------------------------------------------------------------------- running


@contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def _ensure_event_loop() -> None:
    """Give the main thread an event loop: the SDK's ``_sync_await`` needs one.

    An async test that ran earlier in the same pytest session may have closed
    the loop or unset it ("no current event loop").
    """
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        asyncio.set_event_loop(asyncio.new_event_loop())


def _prior_outputs(
    prior: StackResult | Mapping[tuple[str, str], Mapping[str, Any]] | None,
) -> Mapping[tuple[str, str], Mapping[str, Any]] | None:
    """``{(type, logical name): outputs}`` of a previous run, however it was given."""
    if isinstance(prior, StackResult):
        return {(record.type, record.name): record.outputs for record in prior.resources}
    return prior


def run_program(
    stack: str,
    config: Mapping[str, str],
    *,
    cwd: Path = REPO_ROOT,
    secret_salt: str = "",
    preview: bool = False,
    prior: StackResult | Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
) -> StackResult:
    """Run ``infra/__main__.py`` under mocks with ``config``; fail loudly on any error.

    ``prior`` is the previous run of a deploy sequence: computed outputs that
    AWS derives from history (an SSM parameter's version) continue from it.
    """
    _ensure_event_loop()
    mocks = RecordingMocks(secret_salt=secret_salt, prior=_prior_outputs(prior))
    monitor = RecordingMonitor(mocks)
    # A fresh root stack per run: stack transformations live on it.
    settings.ROOT.set(None)
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()
    pulumi.runtime.set_all_config(dict(config), [])
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)

    exported: dict[str, Any] = {}
    secret_exports: set[str] = set()

    def program() -> None:
        runpy.run_path(str(PROGRAM), run_name="__main__")
        root = settings.get_root_resource()
        assert isinstance(root, pulumi.runtime.stack.Stack)
        for key, value in root.outputs.items():
            output = pulumi.Output.from_input(value)
            exported[key] = _sync_await(output.future())
            if _sync_await(output.is_secret()):
                secret_exports.add(key)

    try:
        with _working_directory(cwd):
            _sync_await(pulumi.runtime.stack.run_pulumi_func(program))
    except Exception as exc:
        details = "; ".join(mocks.errors)
        raise HarnessError(
            f"the program failed under mocks for stack {stack!r}: {exc!r}"
            + (f" (harness: {details})" if details else "")
        ) from exc
    if mocks.errors:
        raise HarnessError("; ".join(mocks.errors))

    return StackResult(
        stack=stack,
        config=dict(config),
        resources=list(monitor.records),
        outputs=exported,
        secret_outputs=frozenset(secret_exports),
        secret_values=tuple(
            str(record.outputs[key])
            for record in monitor.records
            for type_, key in (
                ("random:index/randomPassword:RandomPassword", "result"),
                ("aws:cognito/userPoolClient:UserPoolClient", "clientSecret"),
            )
            if record.type == type_ and key in record.outputs
        ),
    )


def run_stack(
    stack: str,
    compute: str | None = None,
    *,
    cwd: Path = REPO_ROOT,
    secret_salt: str = "",
    prior: StackResult | Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
    **overrides: object,
) -> StackResult:
    """Layer the config for ``stack`` and run the program once."""
    return run_program(
        stack,
        layered_config(stack, compute, overrides),
        cwd=cwd,
        secret_salt=secret_salt,
        prior=prior,
    )
