"""Mocks harness: run the real Pulumi program offline and record what it registers.

``build_stack("prod", compute="lambda", azCount=2)`` loads the project defaults
from ``Pulumi.yaml``, the stack's ``Pulumi.<stack>.yaml`` and the overrides
(exactly as the CLI layers them), runs ``infra/__main__.py`` with
``runpy.run_path`` (as the Python language host does) under mocks that fill
computed outputs realistically, and returns a ``StackResult`` whose resources
carry their inputs, outputs, parent and resource options (captured from the
registration requests the engine would receive).

The machinery lives in ``infra/tooling/mocks.py`` (the offline plan, ``infra/tooling/plan.py``,
uses it too); this module adds the per-session cache and the script mode.

Run as a script it builds one stack from a given working directory with a
clean ``sys.path`` and prints a JSON summary: that is how the tests prove the
program does not depend on where it is launched from (issue item 2). In that
mode ``infra/tooling/mocks.py`` is loaded by path, so the ``infra`` package is never
imported before the program imports it itself.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

_MOCKS_FILE = Path(__file__).resolve().parents[2] / "infra" / "tooling" / "mocks.py"


def _load_mocks_by_path() -> ModuleType:
    """``infra/tooling/mocks.py`` as a private module, without importing the ``infra`` package."""
    name = "_fastapi_on_aws_mocks"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, _MOCKS_FILE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolve annotations through sys.modules while the module executes.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    _mocks: Any = _load_mocks_by_path()
else:
    from infra.tooling import mocks as _mocks

REPO_ROOT: Path = _mocks.REPO_ROOT
PROGRAM = _mocks.PROGRAM
PROJECT = _mocks.PROJECT
ACCOUNT_ID = _mocks.ACCOUNT_ID
REGION = _mocks.REGION
AVAILABILITY_ZONES = _mocks.AVAILABILITY_ZONES
HarnessError = _mocks.HarnessError
RecordingMocks = _mocks.RecordingMocks
RecordingMonitor = _mocks.RecordingMonitor
ResourceRecord = _mocks.ResourceRecord
StackResult = _mocks.StackResult
project_defaults = _mocks.project_defaults
stack_file_config = _mocks.stack_file_config
layered_config = _mocks.layered_config
run_program = _mocks.run_program
build_stack_uncached = _mocks.run_stack
# For tests that call pulumi.runtime.set_mocks themselves: it needs the main thread's loop,
# which an async test run earlier in the process (any module's, under xdist) may have unset.
ensure_event_loop = _mocks._ensure_event_loop


_CACHE: dict[str, StackResult] = {}


def build_stack(
    stack: str,
    compute: str | None = None,
    *,
    cwd: Path = REPO_ROOT,
    secret_salt: str = "",
    **overrides: object,
) -> StackResult:
    """``build_stack_uncached``, memoised per argument set for the test session.

    Tests must treat the result as read-only: it is shared.
    """
    key = json.dumps(
        [stack, compute, str(cwd), secret_salt, overrides], sort_keys=True, default=str
    )
    if key not in _CACHE:
        _CACHE[key] = build_stack_uncached(
            stack, compute, cwd=cwd, secret_salt=secret_salt, **overrides
        )
    return _CACHE[key]


def summary(result: StackResult) -> dict[str, Any]:
    """A JSON-safe digest of a run (for comparing runs across processes)."""
    image = [record for record in result.resources if record.type == "docker:index/image:Image"]
    return {
        "urns": sorted(record.urn for record in result.resources),
        "outputs": result.outputs,
        "image_build": image[0].inputs.get("build") if image else None,
        "resource_count": len(result.resources),
    }


def record_dump(result: StackResult) -> dict[str, Any]:
    """Every resource of a run (URN, type, name, parent, inputs, outputs) and the exports."""
    return {
        "resources": [
            {
                "urn": record.urn,
                "type": record.type,
                "name": record.name,
                "parent": record.parent,
                "custom": record.custom,
                "inputs": record.inputs,
                "outputs": record.outputs,
                "delete_before_replace": record.delete_before_replace,
            }
            for record in result.resources
        ],
        "outputs": result.outputs,
    }


def prior_state(dump: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """The ``prior`` argument of ``run_program`` from one variant of a ``record_dump``."""
    return {(item["type"], item["name"]): item["outputs"] for item in dump["resources"]}


def _config_override(text: str) -> tuple[str, object]:
    key, separator, value = text.partition("=")
    if not separator:
        raise SystemExit(f"--set expects key=value, got {text!r}")
    return key, value


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", nargs="?", help="one stack, printed as a summary")
    parser.add_argument("--compute", default=None)
    parser.add_argument("--cwd", default=str(REPO_ROOT))
    parser.add_argument(
        "--run",
        action="append",
        default=[],
        metavar="STACK:COMPUTE",
        help="a variant to run and dump (repeatable); needs --dump",
    )
    parser.add_argument("--dump", help="write every resource of each --run variant here (JSON)")
    parser.add_argument("--prior", help="a --dump of the previous deploy in a sequence")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    options = parser.parse_args()
    # Like the language host: nothing guarantees the repository root is importable.
    root_entries = {str(REPO_ROOT), "", "."}
    sys.path[:] = [entry for entry in sys.path if entry not in root_entries]
    if any(Path(entry).resolve() == REPO_ROOT for entry in sys.path if entry):
        raise SystemExit("repository root is still on sys.path")
    overrides = dict(_config_override(item) for item in options.set)
    if options.stack:
        result = build_stack_uncached(
            options.stack, options.compute, cwd=Path(options.cwd), **overrides
        )
        print(json.dumps(summary(result), sort_keys=True, default=str))
        return
    if not options.run or not options.dump:
        raise SystemExit("give a stack, or --run STACK:COMPUTE ... with --dump FILE")
    priors = json.loads(Path(options.prior).read_text()) if options.prior else {}
    dumps: dict[str, Any] = {}
    for variant in options.run:
        stack, _, compute = variant.partition(":")
        prior = prior_state(priors[variant]) if variant in priors else None
        result = build_stack_uncached(
            stack, compute or None, cwd=Path(options.cwd), prior=prior, **overrides
        )
        dumps[variant] = record_dump(result)
    Path(options.dump).write_text(json.dumps(dumps, sort_keys=True, default=str))


if __name__ == "__main__":
    _main()
