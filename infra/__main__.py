"""Pulumi entry point: StackConfig -> components -> exports.

The language host runs this file with ``runpy.run_path`` from inside
``infra/``, so the repository root is not necessarily on ``sys.path``; it is
added from ``__file__`` before anything from the project is imported.
"""

import sys
from pathlib import Path

_REPO_ROOT = str(Path(__file__).resolve().parent.parent)
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

import pulumi  # noqa: E402

from infra.config import StackConfig  # noqa: E402
from infra.stack import build  # noqa: E402

for _name, _value in build(StackConfig.load()).items():
    pulumi.export(_name, _value)
