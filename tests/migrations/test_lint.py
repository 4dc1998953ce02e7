"""The migration lint refuses what the previous release would not survive."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from scripts.migrations.lint import VERSIONS, lint, lint_file

HEADER = """
import sqlalchemy as sa
from alembic import op

revision = "0099"
down_revision = "0001"
"""


def _migration(tmp_path: Path, upgrade: str, *, contract: bool = False) -> Path:
    body = textwrap.indent(textwrap.dedent(upgrade).strip(), "    ")
    marker = "contract_step = True\n" if contract else ""
    path = tmp_path / "0099_change.py"
    path.write_text(
        f"{HEADER}{marker}\n\ndef upgrade() -> None:\n{body}\n\n\n"
        "def downgrade() -> None:\n    op.drop_table('other')\n"
    )
    return path


def test_the_repositorys_migrations_pass() -> None:
    """Every committed migration is additive (downgrade() may drop: it is not checked)."""
    paths = sorted(VERSIONS.glob("*.py"))
    assert paths
    assert lint(paths) == 0


DESTRUCTIVE = [
    ('op.drop_column("items", "description")', "op.drop_column"),
    ('op.drop_table("items")', "op.drop_table"),
    ('op.rename_table("items", "things")', "op.rename_table"),
    ('op.alter_column("items", "name", new_column_name="title")', "rename"),
    ('op.alter_column("items", "price", type_=sa.Integer())', "type change"),
    ('op.alter_column("items", "description", nullable=False)', "nullable=False"),
    (
        'op.add_column("items", sa.Column("sku", sa.String(20), nullable=False))',
        "NOT NULL column",
    ),
    ('op.execute("ALTER TABLE items DROP COLUMN description")', "destructive SQL"),
    (
        'with op.batch_alter_table("items") as batch_op:\n    batch_op.drop_column("description")',
        "op.drop_column",
    ),
]


@pytest.mark.parametrize(("upgrade", "problem"), DESTRUCTIVE, ids=[d[1] for d in DESTRUCTIVE])
def test_a_destructive_migration_is_refused(
    tmp_path: Path, upgrade: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each destructive operation is reported by file and line, and the lint fails."""
    path = _migration(tmp_path, upgrade)
    findings, contract = lint_file(path)
    assert not contract
    assert any(problem in finding.problem for finding in findings), findings
    assert lint([path]) == 1
    assert "0099_change.py" in capsys.readouterr().err


ADDITIVE = [
    'op.add_column("items", sa.Column("sku", sa.String(20), nullable=True))',
    'op.add_column("items", sa.Column("sku", sa.String(20), nullable=False, server_default="x"))',
    'op.create_index("ix_items_name", "items", ["name"])',
    'op.create_table("tags", sa.Column("id", sa.Integer(), primary_key=True, nullable=False))',
    'op.alter_column("items", "description", nullable=False, server_default="")',
]


@pytest.mark.parametrize("upgrade", ADDITIVE)
def test_additive_migrations_pass(tmp_path: Path, upgrade: str) -> None:
    """Expand steps: new tables, nullable or defaulted columns, indexes."""
    assert lint([_migration(tmp_path, upgrade)]) == 0


def test_a_marked_contract_step_is_allowed_and_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``contract_step = True`` lets a deliberate contract migration through, visibly."""
    path = _migration(tmp_path, 'op.drop_column("items", "description")', contract=True)
    assert lint([path]) == 0
    assert "contract step" in capsys.readouterr().out
