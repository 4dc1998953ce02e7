"""Refuse migrations that would break the release still running during a deploy.

During a deploy the previous release keeps serving while the new one migrates
(Fargate rolls tasks; Lambda moves its alias only after the migration). So an
``upgrade()`` must leave the schema usable by the previous release: it may add
(tables, nullable columns, columns with a server default, indexes), never take
away or change what old code reads and writes. This lint reads each migration's
``upgrade()`` (by its syntax tree, nothing is imported or run) and refuses:

- dropping a table or a column, renaming a table or a column;
- changing a column's type;
- making a column NOT NULL, or adding a NOT NULL column, without a server default;
- raw SQL (``op.execute``) that drops, renames or alters a type.

A migration that does one of these on purpose, the *contract* step of an
expand/contract change (docs/runbook.md, section 6), deployed only once no
running release uses the old shape, says so with a module-level
``contract_step = True``; the lint then lets it through and names it.

    python -m scripts.migrations.lint [FILE ...]   # default: every file in versions/
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

VERSIONS = Path(__file__).resolve().parents[2] / "service" / "migrations" / "versions"
CONTRACT_MARKER = "contract_step"
_DESTRUCTIVE_SQL = re.compile(
    r"\b(DROP\s+(TABLE|COLUMN|INDEX|CONSTRAINT)|RENAME\s+(TO|COLUMN)|ALTER\s+COLUMN\s+\S+\s+"
    r"(SET\s+DATA\s+)?TYPE|SET\s+NOT\s+NULL|TRUNCATE)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Finding:
    """One operation in ``upgrade()`` that the previous release would not survive."""

    path: Path
    line: int
    problem: str

    def __str__(self) -> str:
        return f"{self.path.name}:{self.line}: {self.problem}"


def _op_calls(function: ast.FunctionDef) -> Iterator[tuple[str, ast.Call]]:
    """``(name, call)`` for every ``op.<name>(...)`` (or ``batch_op.<name>``) in the body."""
    for node in ast.walk(function):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in ("op", "batch_op")
        ):
            yield node.func.attr, node


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((kw.value for kw in call.keywords if kw.arg == name), None)


def _is_false(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _column_not_null_without_default(call: ast.Call) -> bool:
    """``sa.Column(..., nullable=False)`` with neither a server default nor a primary key."""
    return (
        _is_false(_keyword(call, "nullable"))
        and _keyword(call, "server_default") is None
        and _keyword(call, "primary_key") is None
    )


def _problems(name: str, call: ast.Call) -> Iterator[str]:
    if name in ("drop_table", "drop_column", "rename_table"):
        yield f"op.{name}: the previous release still uses it (make it a contract step)"
    elif name == "alter_column":
        if _keyword(call, "new_column_name") is not None:
            yield "op.alter_column(new_column_name=...): a rename breaks the previous release"
        if _keyword(call, "type_") is not None:
            yield "op.alter_column(type_=...): a type change can break the previous release"
        if _is_false(_keyword(call, "nullable")) and _keyword(call, "server_default") is None:
            yield (
                "op.alter_column(nullable=False) without server_default: the previous "
                "release inserts rows without this column"
            )
    elif name == "add_column":
        for argument in call.args:
            if isinstance(argument, ast.Call) and _column_not_null_without_default(argument):
                yield (
                    "op.add_column with a NOT NULL column and no server_default: the "
                    "previous release inserts rows without it"
                )
    elif name == "execute":
        for argument in call.args:
            if (
                isinstance(argument, ast.Constant)
                and isinstance(argument.value, str)
                and _DESTRUCTIVE_SQL.search(argument.value)
            ):
                yield f"op.execute({argument.value[:60]!r}): destructive SQL"


def lint_file(path: Path) -> tuple[list[Finding], bool]:
    """The findings in ``path``'s ``upgrade()``, and whether it is marked a contract step."""
    tree = ast.parse(path.read_text(), filename=str(path))
    contract = any(
        isinstance(node, (ast.Assign, ast.AnnAssign))
        and any(
            isinstance(target, ast.Name) and target.id == CONTRACT_MARKER
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        )
        and isinstance(node.value, ast.Constant)
        and node.value.value is True
        for node in tree.body
    )
    findings = [
        Finding(path, call.lineno, problem)
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name == "upgrade"
        for name, call in _op_calls(node)
        for problem in _problems(name, call)
    ]
    return findings, contract


def lint(paths: list[Path]) -> int:
    """Print findings; 1 when an unmarked migration has any, else 0."""
    refused = 0
    for path in paths:
        findings, contract = lint_file(path)
        for finding in findings:
            if contract:
                print(f"contract step (allowed, {CONTRACT_MARKER} = True): {finding}")
            else:
                refused += 1
                print(f"REFUSED {finding}", file=sys.stderr)
    if refused:
        print(
            f"{refused} destructive operation(s): split the change into expand and contract "
            f"steps, or mark the contract migration with `{CONTRACT_MARKER} = True` once no "
            "running release uses what it removes (docs/runbook.md, section 6).",
            file=sys.stderr,
        )
        return 1
    print(f"migration lint: {len(paths)} file(s), nothing the previous release would not survive")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    options = parser.parse_args(argv)
    paths = options.files or sorted(VERSIONS.glob("*.py"))
    return lint(paths)


if __name__ == "__main__":
    sys.exit(main())
