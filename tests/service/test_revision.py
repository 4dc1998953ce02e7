"""``python -m service revision``: ids continue the numbering; several heads are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.config import Config

from service.__main__ import main
from service.migrations import revision


def _versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *chain: tuple[str, str]) -> None:
    """A script directory holding revisions ``(id, down_revision)``, used by ``revision``."""
    (tmp_path / "versions").mkdir()
    for rev, down in chain:
        down_repr = repr(down) if down else "None"
        (tmp_path / "versions" / f"{rev}_x.py").write_text(
            f"revision = {rev!r}\ndown_revision = {down_repr}\n"
        )

    def config() -> Config:
        made = Config()
        made.set_main_option("script_location", str(tmp_path))
        return made

    monkeypatch.setattr(revision, "alembic_config", config)


def test_the_id_after_the_head_keeps_its_width(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _versions(tmp_path, monkeypatch, ("001", ""), ("099", "001"))
    assert revision.next_revision_id() == "100"


def test_a_head_that_is_not_a_number_lets_alembic_choose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _versions(tmp_path, monkeypatch, ("0001", ""), ("ae1027a6acf", "0001"))
    assert revision.next_revision_id() is None


def test_several_heads_are_refused_before_any_database_is_touched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _versions(tmp_path, monkeypatch, ("0001", ""), ("0002", "0001"), ("0003", "0001"))
    # A database that cannot exist: reaching it would be a different error.
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/missing/dir/app.db")
    assert main(["revision", "--autogenerate", "-m", "x"]) == 2
    error = capsys.readouterr().err
    assert "several heads (0002, 0003)" in error
    assert "merge" in error
    assert not (tmp_path / "missing").exists()


def test_the_repositorys_head_is_its_newest_migration() -> None:
    """What the tests expect ``migrate`` to reach: the last of the numbered files."""
    versions = Path(revision.__file__).parent / "versions"
    newest = sorted(versions.glob("[0-9]*_*.py"))[-1]
    assert revision.head_revision() == newest.name.split("_")[0]
