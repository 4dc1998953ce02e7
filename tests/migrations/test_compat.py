"""`make test-migrations` fails when the new head breaks the previous release or cannot go back.

Each test builds a "next commit" tree (a copy of this one plus one migration)
and runs the compatibility check with this repository's HEAD as the previous
release, against the real PostgreSQL.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from scripts.migrations import compat
from tests.infra.lifecycle import make_checkout
from tests.service.conftest import services_required


@pytest.fixture
def admin_url() -> str:
    """TEST_DATABASE_URL, or skip (fail under REQUIRE_SERVICES=1) without it."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url:
        message = (
            "TEST_DATABASE_URL is not set; set TEST_DATABASE_URL=postgresql+asyncpg://"
            "postgres@127.0.0.1:5432/fastapi_test to run the migration compatibility tests"
        )
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    return url


def _next_commit(tmp_path: Path, upgrade: str, downgrade: str) -> Path:
    tree = make_checkout(tmp_path / "next")
    (tree / "service" / "migrations" / "versions" / "0099_next.py").write_text(
        textwrap.dedent(
            f'''
            """The next commit's migration."""

            import sqlalchemy as sa
            from alembic import op

            revision = "0099"
            down_revision = "0001"
            branch_labels = None
            depends_on = None
            contract_step = True


            def upgrade() -> None:
                {upgrade}


            def downgrade() -> None:
                {downgrade}
            '''
        )
    )
    return tree


@pytest.mark.postgres
def test_an_additive_migration_passes(tmp_path: Path, admin_url: str) -> None:
    """A nullable column: the previous release serves on it, and it goes down and up."""
    tree = _next_commit(
        tmp_path,
        'op.add_column("items", sa.Column("sku", sa.String(20), nullable=True))',
        'op.drop_column("items", "sku")',
    )
    compat.run("HEAD", admin_url, tree=tree)


@pytest.mark.postgres
def test_a_dropped_column_breaks_the_previous_release(tmp_path: Path, admin_url: str) -> None:
    """The previous release reads `description`: its contract fails on the new schema."""
    tree = _next_commit(
        tmp_path,
        'op.drop_column("items", "description")',
        'op.add_column("items", sa.Column("description", sa.Text(), nullable=True))',
    )
    with pytest.raises(compat.CompatError, match="previous release on the new schema"):
        compat.run("HEAD", admin_url, tree=tree)


@pytest.mark.postgres
def test_an_irreversible_migration_fails(tmp_path: Path, admin_url: str) -> None:
    """The newest migration must downgrade: a rollback may need it."""
    tree = _next_commit(
        tmp_path,
        'op.create_index("ix_items_name", "items", ["name"])',
        'raise NotImplementedError("no way back")',
    )
    with pytest.raises(compat.CompatError, match="downgrade"):
        compat.run("HEAD", admin_url, tree=tree)
