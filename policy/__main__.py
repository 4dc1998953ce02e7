"""Policy pack entry point: ``pulumi preview --policy-pack policy``.

The policies live in ``infra/policies/`` (importable and unit-tested); this
file only builds the ``PolicyPack``, which starts the analyzer server and
never returns. The language host runs it from inside ``policy/``, so the
repository root is put on ``sys.path`` from ``__file__`` first.
"""

import sys
from pathlib import Path

_REPO_ROOT = str(Path(__file__).resolve().parent.parent)
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from infra.policies import POLICIES  # noqa: E402

PolicyPack(
    name="fastapi-on-aws-guardrails",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=POLICIES,
)
