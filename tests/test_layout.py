"""The house rules a newcomer relies on: sizes you can read at once and one-way layers.

Sizes: no function above ``MAX_FUNCTION_LINES`` and no module above
``MAX_MODULE_LINES`` in the listed packages, and a README a person reads to the
end. A file that must break a rule goes in an allowlist below, with its reason,
so later work cannot undo a rule silently.

Layers of ``infra/`` (an import may only point down or sideways as listed):

    infra/__main__.py, infra/stack.py      the program
      -> infra/components/                  ComponentResources
        -> infra/config.py                  StackConfig (typed, validated config)
          -> infra/documents/               pure JSON/IAM/alarm/CIDR builders
    infra/policies/   guardrails: documents and config only (the pack is built in policy/)
    infra/tooling/    offline tooling (plan, mocks, references): may import anything,
                      and nothing in the program imports it
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).resolve().parents[1]
SIZE_CHECKED: Final = ("infra", "bootstrap", "service", "bench", "scripts", "policy")
MAX_FUNCTION_LINES: Final = 100
MAX_MODULE_LINES: Final = 800
MAX_README_LINES: Final = 300

# "path:function" -> why it may be longer. Empty is the goal; keep it short.
LONG_FUNCTIONS_ALLOWED: Final[dict[str, str]] = {}
# "path" -> why it may be longer.
LONG_MODULES_ALLOWED: Final[dict[str, str]] = {}


def _python_files(package: str) -> Iterator[Path]:
    base = ROOT / package
    yield from sorted(path for path in base.rglob("*.py") if "__pycache__" not in path.parts)


def _functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _long_functions() -> dict[str, int]:
    found = {}
    for package in SIZE_CHECKED:
        for path in _python_files(package):
            for node in _functions(ast.parse(path.read_text(encoding="utf-8"))):
                assert node.end_lineno is not None
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found[f"{path.relative_to(ROOT)}:{node.name}"] = length
    return found


def _long_modules() -> dict[str, int]:
    found = {}
    for package in SIZE_CHECKED:
        for path in _python_files(package):
            count = len(path.read_text(encoding="utf-8").splitlines())
            if count > MAX_MODULE_LINES:
                found[str(path.relative_to(ROOT))] = count
    return found


def test_no_function_is_longer_than_the_limit() -> None:
    """A step you can read at once: every function within MAX_FUNCTION_LINES lines."""
    too_long = {
        name: length
        for name, length in _long_functions().items()
        if name not in LONG_FUNCTIONS_ALLOWED
    }
    assert not too_long, f"functions over {MAX_FUNCTION_LINES} lines: {too_long}"


def test_no_module_is_longer_than_the_limit() -> None:
    """Modules within MAX_MODULE_LINES lines: split by concern beyond that."""
    too_long = {
        name: count for name, count in _long_modules().items() if name not in LONG_MODULES_ALLOWED
    }
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"


def test_allowlists_hold_only_what_still_breaks_a_rule() -> None:
    """A fixed file leaves the allowlist, so the rule applies to it again."""
    stale = (set(LONG_FUNCTIONS_ALLOWED) - set(_long_functions())) | (
        set(LONG_MODULES_ALLOWED) - set(_long_modules())
    )
    assert not stale, f"remove from the allowlists: {sorted(stale)}"


def test_readme_is_short_enough_to_read() -> None:
    """The front page stays a front page; detail lives in docs/."""
    count = len((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    assert count <= MAX_README_LINES, f"README.md has {count} lines (limit {MAX_README_LINES})"


# ------------------------------------------------------------------- layers

# Layer of a module under infra/ -> the infra layers it may import.
_MAY_IMPORT: Final[dict[str, frozenset[str]]] = {
    "documents": frozenset({"documents"}),
    "config": frozenset({"documents", "config"}),
    "components": frozenset({"documents", "config", "components"}),
    "program": frozenset({"documents", "config", "components", "program"}),
    "policies": frozenset({"documents", "config", "policies"}),
    "tooling": frozenset({"documents", "config", "components", "program", "policies", "tooling"}),
}


def _layer(module: str) -> str:
    """The layer of a dotted ``infra`` module name."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in {"stack", "__main__", "tags"}:
        return "program"
    if parts[1] in {"documents", "components", "policies", "tooling", "config"}:
        return parts[1]
    raise AssertionError(f"{module}: no layer assigned; add it to tests/test_layout.py")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported_modules(path: Path) -> Iterator[str]:
    """Every ``infra`` module ``path`` imports, anywhere in it (TYPE_CHECKING blocks too)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("infra"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "infra":
                yield from (f"infra.{alias.name}" for alias in node.names)
            elif node.module.startswith("infra."):
                yield node.module


def _layer_violations() -> list[str]:
    problems = []
    for path in _python_files("infra"):
        importer = _module_name(path)
        allowed = _MAY_IMPORT[_layer(importer)]
        for imported in _imported_modules(path):
            if _layer(imported) not in allowed:
                problems.append(
                    f"{importer} ({_layer(importer)}) imports {imported} ({_layer(imported)})"
                )
    return problems


def test_infra_layers_import_one_way() -> None:
    """Components never import the program (infra.stack), documents import no layer above."""
    assert not _layer_violations(), "\n".join(_layer_violations())


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("from infra.stack import SharedLayers", "components"),
        ("from infra import stack", "documents"),
        ("import infra.tooling.mocks", "components"),
        ("from infra.components.network import Network", "policies"),
    ],
)
def test_layer_rule_sees_a_wrong_import(tmp_path: Path, source: str, target: str) -> None:
    """The check is not hollow: each kind of wrong import is reported, TYPE_CHECKING too."""
    module = tmp_path / "probe.py"
    module.write_text(f"from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    {source}\n")
    imported = list(_imported_modules(module))
    assert imported
    assert any(_layer(name) not in _MAY_IMPORT[target] for name in imported)
