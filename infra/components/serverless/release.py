"""Migrations on deploy, then the ``live`` alias: new code never serves before its migrations ran.

The migrate function is a function of its own, from the same image: the
serving function's timeout is capped under the API's 30 s, but on a first
deploy the proxy target may take minutes to become AVAILABLE. This one waits
for the database (MIGRATION_CONNECT_TIMEOUT_SECONDS) within Lambda's 15
minutes, and one concurrent execution is all a migration ever needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.serverless.function import FunctionBase, image_function
from infra.components.serverless.scope import Scope
from infra.documents import serverless as ld


@dataclass(frozen=True)
class Release:
    """The ``live`` alias the API invokes, moved only after the migration succeeded."""

    alias: aws.lambda_.Alias
    alias_arn: pulumi.Output[str]


def create_release(
    scope: Scope,
    base: FunctionBase,
    *,
    image: pulumi.Input[str],
    serving: aws.lambda_.Function,
    serving_environment: pulumi.Output[dict[str, str]],
    migration_needs: Sequence[pulumi.Resource],
) -> Release:
    """The migrate function and its invocation on each new version, then the alias.

    ``migration_needs`` are what the handler needs before it can run: its SSM
    permission, the proxy's database target and the network rules.
    """
    migrate_function = image_function(
        scope,
        f"{scope.name}{ld.MIGRATE_FUNCTION_SUFFIX}",
        base,
        description="fastapi-on-aws migrations, invoked once per deploy before the alias moves",
        timeout_seconds=ld.MIGRATE_FUNCTION_TIMEOUT_SECONDS,
        reserved_concurrency=1,
        environment=serving_environment.apply(ld.migrate_function_environment),
    )
    migration = aws.lambda_.Invocation(
        f"{scope.name}-migrate",
        function_name=migrate_function.name,
        qualifier=migrate_function.version,
        input=ld.migrate_event(),
        # Invoke on create/replace only: the CRUD scope would add a `tf`
        # key to the event, which the handler refuses.
        lifecycle_scope="CREATE_ONLY",
        # Runs again for every new image and every new serving version.
        triggers={"image": image, "function_version": serving.version},
        opts=scope.opts(
            depends_on=migration_needs,
            # Deleting a create-only invocation does nothing, so freeing it
            # first costs nothing and keeps the C2 rule uniform.
            delete_before_replace=True,
        ),
    )
    alias = aws.lambda_.Alias(
        f"{scope.name}-alias",
        name=ld.ALIAS_NAME,
        description="The version the HTTP API serves: moved only after its migrations ran",
        function_name=serving.name,
        function_version=pulumi.Output.all(serving.version, migration.result).apply(
            lambda values: ld.migrated_version(values[0], values[1])
        ),
        opts=scope.opts(
            depends_on=[migration],
            # An explicit name (unique per function): free it before a
            # replacement (INVARIANT C2).
            delete_before_replace=True,
        ),
    )
    # The alias ARN is the function ARN qualified by the alias name.
    alias_arn = pulumi.Output.concat(serving.arn, ":", alias.name)
    return Release(alias=alias, alias_arn=alias_arn)
