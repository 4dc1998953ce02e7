"""docs/config.md: every key of the Pulumi.yaml schema, its type, default, dev and prod values."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from infra.config import CONFIG_KEYS
from infra.tooling import config_reference
from tests.infra.harness import REPO_ROOT

CONFIG_MD = REPO_ROOT / "docs" / "config.md"


def _rows() -> dict[str, list[str]]:
    """``{key: [type, default, dev, prod, description]}`` parsed from the markdown tables."""
    rows: dict[str, list[str]] = {}
    for line in CONFIG_MD.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[1:]
    return rows


def _parse(cell: str) -> tuple[Any, bool]:
    """A table cell back to a YAML value, and whether it was marked (default)."""
    inherited = cell.endswith("(default)")
    text = cell.removesuffix("(default)").strip()
    if text == config_reference.NOT_SET:
        return None, inherited
    assert text.startswith("`"), cell
    assert text.endswith("`"), cell
    raw = text[1:-1]
    if raw == '""':
        return "", inherited
    if raw.startswith("["):
        return json.loads(raw), inherited
    return yaml.safe_load(raw), inherited


def _yaml(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((REPO_ROOT / name).read_text(encoding="utf-8")) or {})


def test_committed_reference_is_generated_from_the_yaml_files() -> None:
    """docs/config.md equals ``python -m infra.tooling.config_reference`` output."""
    assert CONFIG_MD.read_text(encoding="utf-8") == config_reference.render(), (
        f"docs/config.md is out of date: run `{config_reference.COMMAND}`"
    )


def test_every_schema_key_is_documented_with_type_default_and_description() -> None:
    """Same keys as Pulumi.yaml (and StackConfig), with the schema's type, default, text."""
    schema = _yaml("Pulumi.yaml")["config"]
    rows = _rows()
    project_rows = {key for key in rows if ":" not in key}
    assert project_rows == set(schema)
    assert project_rows == {spec.name for spec in CONFIG_KEYS}
    for key, spec in schema.items():
        kind, default, _dev, _prod, description = rows[key]
        assert kind == spec["type"], key
        assert _parse(default)[0] == spec["default"], key
        assert description == spec["description"], key


@pytest.mark.parametrize(("stack", "column"), [("dev", 2), ("prod", 3)])
def test_dev_and_prod_values_match_the_stack_files(stack: str, column: int) -> None:
    """Each stack column shows the stack file's value, or the default marked as such."""
    schema = _yaml("Pulumi.yaml")["config"]
    values = _yaml(f"Pulumi.{stack}.yaml")["config"]
    rows = _rows()
    for key, spec in schema.items():
        shown, inherited = _parse(rows[key][column])
        full = f"fastapi-on-aws:{key}"
        if full in values:
            assert (shown, inherited) == (values[full], False), (stack, key)
        else:
            assert (shown, inherited) == (spec["default"], True), (stack, key)
    for key in ("aws:region", "aws:allowedAccountIds"):
        shown, _ = _parse(rows[key][column])
        assert shown == values.get(key), (stack, key)
    unknown = {key for key in values if key not in rows and key.partition(":")[2] not in rows}
    assert not unknown, f"Pulumi.{stack}.yaml sets keys the reference lacks: {unknown}"


def test_check_mode_reports_a_stale_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--check`` fails, naming the refresh command, when the file differs."""
    stale = tmp_path / "config.md"
    stale.write_text("# old\n", encoding="utf-8")
    monkeypatch.setattr(config_reference, "OUTPUT", stale)
    assert config_reference.main(["--check"]) == 1
    assert config_reference.COMMAND in capsys.readouterr().err
    assert config_reference.main([]) == 0
    assert config_reference.main(["--check"]) == 0
