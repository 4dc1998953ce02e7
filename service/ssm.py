"""Secrets from SSM Parameter Store, fetched once at start-up (the Lambda shape)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from service.config import SSM_PARAMETER_TARGETS, ConfigError, env_name

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

_SOURCE_OF = {target: source for source, target in SSM_PARAMETER_TARGETS.items()}


def fetch_parameters(wanted: dict[str, str], client: SSMClient | Any = None) -> dict[str, str]:
    """Fetch ``{setting: parameter name}`` in one decrypted ``GetParameters`` call.

    Returns ``{setting: value}``. A missing parameter or an AWS error raises
    :class:`ConfigError` naming the variable that holds the parameter name; the
    values themselves never appear in messages.
    """
    if not wanted:
        return {}
    ssm: SSMClient = client if client is not None else boto3.client("ssm")
    names = sorted(set(wanted.values()))
    try:
        response = ssm.get_parameters(Names=names, WithDecryption=True)
    except (BotoCoreError, ClientError) as error:
        variables = ", ".join(env_name(_SOURCE_OF[target]) for target in sorted(wanted))
        raise ConfigError(
            f"could not read the SSM parameters named by {variables}: "
            f"{type(error).__name__}: {error}"
        ) from None
    missing = set(response.get("InvalidParameters", []))
    if missing:
        offenders = ", ".join(
            f"{env_name(_SOURCE_OF[target])}={name}"
            for target, name in sorted(wanted.items())
            if name in missing
        )
        raise ConfigError(f"SSM parameter(s) not found: {offenders}")
    values: dict[str, str] = {}
    for parameter in response.get("Parameters", []):
        # A parameter may be named by its name or by its ARN; index both.
        for key in (parameter.get("Name"), parameter.get("ARN")):
            if key:
                values[key] = parameter.get("Value", "")
    return {target: values[name] for target, name in wanted.items()}
