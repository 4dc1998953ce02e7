"""C7: every taggable resource carries project, stack and compute tags."""

from __future__ import annotations

import importlib
import inspect
import keyword

import pulumi
import pytest

from infra.tags import tag_transformation
from tests.infra.harness import StackResult

REQUIRED = {"project": "fastapi-on-aws"}


def _accepts_tags(token: str) -> bool:
    """Whether the pulumi_aws class behind a type token has a ``tags`` argument."""
    _package, module_path, class_name = token.split(":")
    module_name = module_path.split("/")[0]
    if module_name == "index":
        module = importlib.import_module("pulumi_aws")
    else:
        # Python keywords get a trailing underscore (pulumi_aws.lambda_).
        suffix = "_" if keyword.iskeyword(module_name) else ""
        module = importlib.import_module(f"pulumi_aws.{module_name}{suffix}")
    cls = getattr(module, class_name)
    return "tags" in inspect.signature(cls._internal_init).parameters


def test_c7_every_taggable_resource_is_tagged(variant: StackResult) -> None:
    """C7: all AWS resources that accept tags carry project, stack and compute."""
    expected = {
        "project": "fastapi-on-aws",
        "stack": variant.stack,
        "compute": variant.outputs["compute"],
    }
    checked = 0
    for record in variant.custom_resources:
        if not record.type.startswith("aws:"):
            continue
        if _accepts_tags(record.type):
            tags = record.inputs.get("tags") or {}
            assert {k: tags.get(k) for k in expected} == expected, record.name
            checked += 1
        else:
            assert "tags" not in record.inputs
    assert checked >= 20  # the shared layers alone have more than 20


def test_transformation_merges_over_existing_tags() -> None:
    """Own tags (e.g. Name) survive; the required tags win on conflict."""
    transform = tag_transformation(REQUIRED)
    args = pulumi.ResourceTransformationArgs(
        resource=None,  # type: ignore[arg-type]
        type_="aws:ec2/vpc:Vpc",
        name="x",
        props={"tags": {"Name": "vpc", "project": "other"}, "cidr_block": "10.0.0.0/16"},
        opts=pulumi.ResourceOptions(),
    )
    result = transform(args)
    assert result is not None
    assert result.props["tags"] == {"Name": "vpc", "project": "fastapi-on-aws"}
    assert result.props["cidr_block"] == "10.0.0.0/16"


@pytest.mark.parametrize(
    ("type_", "props"),
    [
        ("aws:ec2/routeTableAssociation:RouteTableAssociation", {"subnet_id": "s"}),
        ("random:index/randomPassword:RandomPassword", {"length": 8, "keepers": None}),
        ("aws:autoscaling/group:Group", {"tags": [{"key": "a", "value": "b"}]}),
    ],
)
def test_transformation_leaves_untaggable_resources_alone(
    type_: str, props: dict[str, object]
) -> None:
    """No tags argument, not AWS, or a list-shaped tags: unchanged."""
    args = pulumi.ResourceTransformationArgs(
        resource=None,  # type: ignore[arg-type]
        type_=type_,
        name="x",
        props=props,
        opts=pulumi.ResourceOptions(),
    )
    assert tag_transformation(REQUIRED)(args) is None


@pulumi.runtime.test
def test_transformation_merges_tags_given_as_an_output() -> pulumi.Output[None]:
    """Tags that are themselves an Output are merged once known."""
    args = pulumi.ResourceTransformationArgs(
        resource=None,  # type: ignore[arg-type]
        type_="aws:ec2/vpc:Vpc",
        name="x",
        props={"tags": pulumi.Output.from_input({"Name": "vpc"})},
        opts=pulumi.ResourceOptions(),
    )
    result = tag_transformation(REQUIRED)(args)
    assert result is not None

    def check(tags: dict[str, str]) -> None:
        assert tags == {"Name": "vpc", "project": "fastapi-on-aws"}

    return result.props["tags"].apply(check)
