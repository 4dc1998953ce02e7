"""Secrets: accepted characters (A8), SecureString (B8), names, never exported (B7)."""

from __future__ import annotations

import json
import string

from infra.components.secrets import PARAMETER_LEAVES
from tests.infra.harness import REPO_ROOT, StackResult

PASSWORD = "random:index/randomPassword:RandomPassword"
PARAMETER = "aws:ssm/parameter:Parameter"
RDS_FORBIDDEN = set('/@" ')
ELASTICACHE_SPECIALS = set("!&#$^<>-")


def test_a8_database_password_uses_only_rds_characters(variant: StackResult) -> None:
    """A8: printable ASCII without '/', '@', '"' or space."""
    password = variant.one(PASSWORD, "database-password").inputs
    specials = set(password["overrideSpecial"])
    assert password["special"] is True
    assert not specials & RDS_FORBIDDEN
    assert specials <= set(string.punctuation)
    assert 8 <= password["length"] <= 128


def test_a8_redis_token_uses_only_elasticache_characters(variant: StackResult) -> None:
    """A8: AUTH token specials only from !&#$^<>- and 16-128 characters long."""
    token = variant.one(PASSWORD, "redis-password").inputs
    assert set(token["overrideSpecial"]) <= ELASTICACHE_SPECIALS
    assert 16 <= token["length"] <= 128
    group = variant.one("aws:elasticache/replicationGroup:ReplicationGroup")
    assert group.inputs["transitEncryptionEnabled"] is True


def test_b8_parameters_are_secure_strings_under_the_stack_prefix(variant: StackResult) -> None:
    """B8: one SecureString per secret at /fastapi-on-aws/<stack>/<name> (docs/contracts.md)."""
    parameters = variant.find(PARAMETER)
    expected = {f"/fastapi-on-aws/{variant.stack}/{leaf}" for leaf in PARAMETER_LEAVES.values()}
    assert {p.inputs["name"] for p in parameters} == expected
    contracts = (REPO_ROOT / "docs" / "contracts.md").read_text()
    for parameter in parameters:
        assert parameter.inputs["type"] == "SecureString"
        assert "value" in parameter.secret_inputs
        assert parameter.delete_before_replace  # C2: an explicit name
        leaf = parameter.inputs["name"].rsplit("/", 1)[1]
        assert f"/fastapi-on-aws/<stack>/{leaf}" in contracts


def test_parameters_hold_the_generated_values(variant: StackResult) -> None:
    """Each parameter stores its generator's result; RDS and Redis get the same values."""
    for env, leaf in PARAMETER_LEAVES.items():
        generated = variant.one(PASSWORD, f"secrets-{leaf}").outputs["result"]
        assert variant.one(PARAMETER, f"secrets-{leaf}").inputs["value"] == generated, env
    database = variant.one("aws:rds/instance:Instance")
    cache = variant.one("aws:elasticache/replicationGroup:ReplicationGroup")
    assert (
        database.inputs["password"] == variant.one(PASSWORD, "database-password").outputs["result"]
    )
    assert "password" in database.secret_inputs
    assert cache.inputs["authToken"] == variant.one(PASSWORD, "redis-password").outputs["result"]
    assert "authToken" in cache.secret_inputs


def test_b7_no_secret_in_any_stack_output(variant: StackResult) -> None:
    """B7: the generated values appear in no export, and no export needs to be secret."""
    assert len(variant.secret_values) == 3
    exported = json.dumps(variant.outputs, default=str)
    for value in variant.secret_values:
        assert value not in exported
    assert not variant.secret_outputs


def test_parameter_names_and_arns_are_exported_not_values(variant: StackResult) -> None:
    """Compute gets names (and ARNs); the stack exports the names."""
    names = variant.outputs["ssmParameterNames"]
    assert set(names) == set(PARAMETER_LEAVES)
    for env, leaf in PARAMETER_LEAVES.items():
        assert names[env] == f"/fastapi-on-aws/{variant.stack}/{leaf}"


def test_rotation_keepers_leave_revision_one_as_stacks_were_created() -> None:
    """Adopting config-driven rotation replaces nothing; a bumped revision replaces the value."""
    from infra.components.secrets import rotation_keepers

    assert rotation_keepers(1) is None
    assert rotation_keepers(2) == {"revision": "2"}
    assert rotation_keepers(3) != rotation_keepers(2)


def test_config_revision_names_versions_never_values(variant: StackResult) -> None:
    """Defect 8: CONFIG_REVISION is each parameter's SSM version, under a neutral name.

    It must not look like a secret to the B7 policy, and it carries no value.
    """
    from infra import policies
    from infra.components.secrets import config_revision

    assert not policies._secret_like("CONFIG_REVISION")
    assert (
        config_revision({"API_TOKEN": 3, "DATABASE_PASSWORD": 1, "REDIS_PASSWORD": 2})
        == "api-token-v3.database-password-v1.redis-password-v2"
    )
    if variant.find("aws:ecs/taskDefinition:TaskDefinition"):
        containers = json.loads(
            variant.one("aws:ecs/taskDefinition:TaskDefinition").inputs["containerDefinitions"]
        )
        env = {item["name"]: item["value"] for item in containers[0]["environment"]}
    else:
        function = variant.one("aws:lambda/function:Function", "app-function")
        env = function.inputs["environment"]["variables"]
    assert env["CONFIG_REVISION"] == "api-token-v1.database-password-v1.redis-password-v1"
    for value in variant.secret_values:
        assert value not in env["CONFIG_REVISION"]
