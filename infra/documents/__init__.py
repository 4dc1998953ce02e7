"""Pure builders of the JSON documents the stack sends to AWS.

Container definitions, Lambda settings, IAM policies, alarms and dashboards,
subnet CIDRs, log-delivery principals and physical names: plain functions of
plain values, with no Pulumi resource and no import from the layers above
(``infra.config``, ``infra.components``, ``infra.stack``), so every rule is
testable without the Pulumi runtime.
"""
