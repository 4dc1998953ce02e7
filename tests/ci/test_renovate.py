"""The dependency-update configuration (.github/renovate.json), validated offline.

check-jsonschema vendors Renovate's published schema, so no network is needed.
Beyond the schema (which tolerates unknown keys), every key must be one the
schema defines, and each manager must match what it is meant to update here.
"""

from __future__ import annotations

import json
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".github" / "renovate.json"


def config() -> dict[str, Any]:
    """The parsed configuration."""
    loaded: dict[str, Any] = json.loads(CONFIG.read_text())
    return loaded


def renovate_schema() -> dict[str, Any]:
    """check-jsonschema's vendored copy of Renovate's schema."""
    text = (
        resources.files("check_jsonschema.builtin_schemas.vendor")
        .joinpath("renovate.json")
        .read_text()
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


def test_configuration_validates_against_renovates_schema() -> None:
    """The file is a valid Renovate configuration."""
    schema = renovate_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(config()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_every_key_is_one_the_schema_defines() -> None:
    """A misspelt option would be ignored by Renovate without a word."""
    schema = renovate_schema()
    properties = set(schema["properties"]) | {"$schema"}

    def item_properties(definition: str) -> set[str]:
        (first, *_) = schema["definitions"][definition]["items"]["allOf"]
        return set(first["properties"])

    document = config()
    assert set(document) <= properties, set(document) - properties
    rule_keys = item_properties("packageRules")
    for rule in document["packageRules"]:
        assert set(rule) <= rule_keys, set(rule) - rule_keys
        assert rule.get("description"), f"a package rule says what it is for: {rule}"
    manager_keys = item_properties("customManagers")
    for manager in document["customManagers"]:
        assert set(manager) <= manager_keys, set(manager) - manager_keys


def test_the_managers_cover_the_lock_actions_base_images_and_pulumi_cli() -> None:
    """uv lock (pep621 + lock maintenance), SHA-pinned actions, Dockerfile, PULUMI_VERSION."""
    document = config()
    assert set(document["enabledManagers"]) == {
        "pep621",
        "github-actions",
        "dockerfile",
        "custom.regex",
    }
    assert "helpers:pinGitHubActionDigests" in document["extends"]
    assert document["lockFileMaintenance"]["enabled"] is True
    actions = [r for r in document["packageRules"] if r.get("matchManagers") == ["github-actions"]]
    assert actions
    assert actions[0]["pinDigests"] is True


def test_the_pulumi_cli_regex_finds_the_pinned_version_in_the_workflows() -> None:
    """The custom manager matches deploy.yml's PULUMI_VERSION, and nothing else is pinned."""
    (manager,) = config()["customManagers"]
    pattern = manager["managerFilePatterns"][0]
    assert pattern.startswith("/")
    assert pattern.endswith("/")
    file_regex = re.compile(pattern[1:-1])
    value_regex = re.compile(
        manager["matchStrings"][0].replace("(?<currentValue>", "(?P<currentValue>")
    )
    found: dict[str, list[str]] = {}
    for workflow in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        relative = workflow.relative_to(ROOT).as_posix()
        assert file_regex.search(relative), relative
        versions = [m["currentValue"] for m in value_regex.finditer(workflow.read_text())]
        if versions:
            found[relative] = versions
    assert list(found) == [".github/workflows/deploy.yml"], found
    (version,) = found[".github/workflows/deploy.yml"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert manager["depNameTemplate"] == "pulumi/pulumi"
    assert manager["datasourceTemplate"] == "github-releases"


def test_the_pulumi_group_holds_every_pulumi_package_and_the_cli() -> None:
    """The CLI, SDK and providers move in one pull request (they must stay compatible)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    infra = {
        re.split(r"[<>=!~\[ ]", spec, maxsplit=1)[0]
        for spec in project["dependency-groups"]["infra"]
    }
    (group,) = [
        r for r in config()["packageRules"] if r.get("groupName") == "Pulumi CLI, SDK and providers"
    ]
    assert set(group["matchPackageNames"]) == infra | {"pulumi/pulumi"}
