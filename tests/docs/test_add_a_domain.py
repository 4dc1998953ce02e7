"""docs/make-it-yours.md, section 1, followed in a copy of the repository.

The files are the guide's own code blocks (those titled with a path), the
router is registered with the guide's two lines, and the migration comes from
``make migration m="add orders"``: so the guide cannot drift from what works.
"""

from __future__ import annotations

import ast
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from service.config import Settings
from service.migrations.revision import head_revision
from tests.docs.clone import VENV, make_clone, run_make

REPO_ROOT = Path(__file__).resolve().parents[2]
GUIDE = REPO_ROOT / "docs" / "make-it-yours.md"
FILE_BLOCK = re.compile(r'^```python title="(?P<path>[^"]+)"\n(?P<code>.*?)^```$', re.M | re.S)
IMPORT = "from service.orders.router import router as orders_router"
INCLUDE = "    install_item_routes(app)\n    app.include_router(orders_router)\n"
RUFF = str(VENV / "bin" / "ruff")
# The service reads these; the clone's commands must see none of the suite's own
# (CI's TEST_DATABASE_URL names the shared test database, which must not get orders).
SERVICE_VARIABLES = {name.upper() for name in Settings.model_fields} | {
    "TEST_DATABASE_URL",
    "TEST_REDIS_URL",
    "REQUIRE_SERVICES",
}


def _environment(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    return {**clean, **extra}


def _run(clone: Path, *command: str, **extra: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, cwd=clone, capture_output=True, text=True, env=_environment(**extra), check=False
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _guide_files() -> dict[str, str]:
    return {m["path"]: m["code"] for m in FILE_BLOCK.finditer(GUIDE.read_text())}


def _register_router(clone: Path) -> None:
    """The guide's two edits, the import then sorted as `make format` would."""
    main = clone / "service" / "main.py"
    text = main.read_text()
    anchor = "from service.items.router import install_item_routes\n"
    assert text.count(anchor) == 1
    assert text.count("    install_item_routes(app)\n") == 1
    text = text.replace(anchor, f"{anchor}{IMPORT}\n")
    main.write_text(text.replace("    install_item_routes(app)\n", INCLUDE))
    _run(clone, RUFF, "check", "--fix", "--select", "I", "--quiet", "service/main.py")


def test_the_guide_shows_the_code_and_commands_this_test_uses() -> None:
    guide = GUIDE.read_text()
    assert sorted(_guide_files()) == [
        "service/orders/__init__.py",
        "service/orders/models.py",
        "service/orders/router.py",
        "service/orders/schemas.py",
        "tests/service/test_orders.py",
    ]
    assert IMPORT in guide
    assert INCLUDE in guide
    assert 'make migration m="add orders"' in guide
    assert 'python -m service revision --autogenerate -m "add orders"' in guide


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository with the guide's orders domain and its migration."""
    clone = make_clone(tmp_path_factory.mktemp("domain") / "repo")
    for path, code in _guide_files().items():
        (clone / path).parent.mkdir(parents=True, exist_ok=True)
        (clone / path).write_text(code)
    _register_router(clone)
    made = run_make(clone, "migration", "m=add orders", env=_environment())
    assert made.returncode == 0, made.stdout + made.stderr
    assert "migration lint: 2 file(s), nothing the previous release would not survive" in (
        made.stdout
    )
    return clone


def _calls(function: ast.FunctionDef) -> list[tuple[str, list[str]]]:
    """``(op name, string arguments)`` of each ``op.x(...)`` / ``batch_op.x(...)``."""
    return [
        (node.func.attr, [a.value for a in node.args if isinstance(a, ast.Constant)])
        for node in ast.walk(function)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in ("op", "batch_op")
    ]


def test_the_generated_migration_creates_the_table_and_only_that(clone: Path) -> None:
    previous = head_revision()
    new = f"{int(previous) + 1:04d}"
    path = clone / "service" / "migrations" / "versions" / f"{new}_add_orders.py"
    tree = ast.parse(path.read_text())
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    upgrade = _calls(functions["upgrade"])
    assert ("create_table", ["orders"]) in upgrade
    assert {name for name, _ in upgrade} == {
        "create_table",
        "batch_alter_table",
        "create_index",
        "f",
    }
    assert {name for name, _ in _calls(functions["downgrade"])} == {
        "drop_table",
        "batch_alter_table",
        "drop_index",
        "f",
    }
    source = path.read_text()
    assert f'down_revision: str | None = "{previous}"' in source
    assert "sa.func.now()" in source  # not SQLite's CURRENT_TIMESTAMP
    assert "service." not in source  # no application import (UTCDateTime)
    # Written as `make lint` wants it, like every file the guide adds.
    changed = [str(path), "service/orders", "service/main.py", "tests/service/test_orders.py"]
    _run(clone, RUFF, "check", *changed)
    _run(clone, RUFF, "format", "--check", *changed)


def test_a_fresh_database_upgrades_to_it_and_back(clone: Path, tmp_path: Path) -> None:
    database = tmp_path / "fresh.db"
    url = f"sqlite+aiosqlite:///{database}"
    python = sys.executable
    _run(clone, python, "-m", "service", "migrate", DATABASE_URL=url)
    with sqlite3.connect(database) as connection:
        columns = {row[1] for row in connection.execute("PRAGMA table_info(orders)")}
        version = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert columns == {"id", "item_id", "customer", "quantity", "created_at"}
    assert version == (f"{int(head_revision()) + 1:04d}",)
    _run(clone, python, "-m", "service", "downgrade", head_revision(), DATABASE_URL=url)
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert "orders" not in tables
    assert "items" in tables


def test_the_guides_test_of_the_new_route_passes(clone: Path) -> None:
    result = _run(
        clone,
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-m",
        "not postgres",
        "tests/service/test_orders.py",
    )
    assert "2 passed" in result.stdout


def test_no_change_writes_nothing_and_an_empty_revision_comes_next(clone: Path) -> None:
    """Run last: it adds a revision after the guide's, then removes it."""
    versions = clone / "service" / "migrations" / "versions"
    before = sorted(versions.glob("*.py"))
    same = _run(clone, sys.executable, "-m", "service", "revision", "--autogenerate", "-m", "again")
    assert "no change: the models match the SQLite file ./app.db at head" in same.stdout
    assert sorted(versions.glob("*.py")) == before

    guide = GUIDE.read_text()
    assert '.venv/bin/python -m service revision -m "backfill order totals"' in guide
    empty = _run(clone, sys.executable, "-m", "service", "revision", "-m", "backfill order totals")
    added = sorted(set(versions.glob("*.py")) - set(before))
    try:
        previous = f"{int(head_revision()) + 1:04d}"
        assert [path.name for path in added] == [
            f"{int(previous) + 1:04d}_backfill_order_totals.py"
        ]
        assert f"wrote service/migrations/versions/{added[0].name}" in empty.stdout
        source = added[0].read_text()
        assert f'down_revision: str | None = "{previous}"' in source
        # The template's imports stay for the code its author is about to write.
        assert "from alembic import op" in source
        assert "import sqlalchemy as sa" in source
        _run(clone, RUFF, "format", "--check", str(added[0]))
    finally:
        for path in added:
            path.unlink()
