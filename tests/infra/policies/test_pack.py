"""The policy pack as a whole (infra/policies/__init__.py): positive runs and its assembly.

Positive: the four real stacks (dev/prod x fargate/lambda) from the mocks
harness raise no violation. Assembly: the pack holds every concern module's
policies exactly once, mandatory, in the table docs/policies.md shows, and
policy/__main__.py builds it. The negative cases live in one test module per
concern module (test_<module>.py).
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

import infra.policies
from infra import policies
from infra.policies import CONCERN_MODULES, INVARIANTS_BY_POLICY, POLICIES, SPECS
from infra.policies.base import PolicySpec
from tests.infra.conftest import VARIANTS, BuildStack
from tests.infra.harness import REPO_ROOT
from tests.infra.policies.helpers import all_violations

# Modules of infra/policies/ that hold no policies of their own.
_SHARED_MODULES = {"base", "resource_types"}


@pytest.mark.parametrize(("stack", "compute"), VARIANTS, ids=[f"{s}-{c}" for s, c in VARIANTS])
def test_real_stacks_raise_no_violation(build_stack: BuildStack, stack: str, compute: str) -> None:
    """All four real stacks pass every policy (A1-A3 A5-A15 B1-B15 C2-C5 C7)."""
    result = build_stack(stack, compute=compute)
    assert all_violations(result) == []


def test_every_policy_is_mandatory_and_named_once() -> None:
    """The pack blocks on violations, and names are unique."""
    names = [spec.name for spec in SPECS]
    assert len(names) == len(set(names))
    for spec in SPECS:
        assert spec.policy.enforcement_level.value == "mandatory", spec.name
        assert spec.invariants, spec.name


def test_pack_holds_every_concern_modules_policies_once() -> None:
    """Each module's SPECS is in the pack, and the pack has nothing else.

    A policy written in a module but left out of ``PACK_ORDER`` would never be
    enforced; a module missing from ``CONCERN_MODULES`` likewise.
    """
    found = sorted(
        info.name
        for info in pkgutil.iter_modules(infra.policies.__path__)
        if info.name not in _SHARED_MODULES
    )
    assert sorted(module.__name__.rsplit(".", 1)[1] for module in CONCERN_MODULES) == found
    from_modules: list[PolicySpec] = []
    for name in found:
        module = importlib.import_module(f"infra.policies.{name}")
        from_modules += module.SPECS
    assert sorted(spec.name for spec in from_modules) == sorted(spec.name for spec in SPECS)
    assert {id(spec) for spec in from_modules} == {id(spec) for spec in SPECS}
    assert [spec.policy for spec in SPECS] == POLICIES


def test_package_keeps_the_names_it_always_exposed() -> None:
    """Type tokens and helpers other tests and tooling import from ``infra.policies``."""
    assert policies.T_LOAD_BALANCER == "aws:lb/loadBalancer:LoadBalancer"
    assert policies.T_SECRET_VERSION == "aws:secretsmanager/secretVersion:SecretVersion"
    assert policies.MIGRATE_FUNCTION_SUFFIX == "-migrate-function"
    assert policies._secret_like("DATABASE_PASSWORD")
    assert not policies._secret_like("DATABASE_PASSWORD_SSM_PARAMETER")


def test_policies_note_lists_every_policy_with_its_invariants() -> None:
    """docs/policies.md names every policy with the ids it covers."""
    note = (REPO_ROOT / "docs" / "policies.md").read_text()
    rows = {
        line.split("|")[1].strip().strip("`"): line.split("|")[2]
        for line in note.splitlines()
        if line.startswith("| `")
    }
    for name, invariants in INVARIANTS_BY_POLICY.items():
        assert name in rows, f"docs/policies.md lacks {name}"
        assert set(rows[name].split()) == set(invariants), name


def test_policy_pack_entry_builds_the_pack_from_infra_policies() -> None:
    """policy/__main__.py builds the PolicyPack from infra.policies, importable from anywhere."""
    source = (REPO_ROOT / "policy" / "__main__.py").read_text()
    assert "PolicyPack(" in source
    assert "POLICIES" in source
    assert "Path(__file__).resolve().parent.parent" in source
    project = (REPO_ROOT / "policy" / "PulumiPolicy.yaml").read_text()
    assert "python" in project
    assert Path(REPO_ROOT / "policy" / "__main__.py").exists()
