"""The server's access log: one write per event-loop turn, nothing lost, in order."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from service import logging as service_logging
from service.logging import configure_logging, flush_access_log, write_access_log
from service.main import create_server_app
from tests.service.conftest import make_settings, open_client

ROOT = Path(__file__).resolve().parents[2]


class CountingStdout:
    """A stdout that records every ``write`` separately."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in "".join(self.writes).splitlines()]


@pytest.fixture
def batched(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingStdout]:
    """Batching on, stdout counted; the module's state restored afterwards.

    stdout is swapped in the test's own phase (pytest resets it between phases).
    """
    configure_logging("INFO")
    monkeypatch.setattr(service_logging, "_batch_access_log", True)
    monkeypatch.setattr(service_logging, "_pending_access_lines", [])
    stdout = CountingStdout()
    yield stdout
    with contextlib.redirect_stdout(stdout):
        flush_access_log()


async def test_lines_of_one_loop_turn_go_out_in_one_write_in_order(
    batched: CountingStdout,
) -> None:
    with contextlib.redirect_stdout(batched):
        await _one_turn_then_another(batched)


async def _one_turn_then_another(batched: CountingStdout) -> None:
    for n in range(5):
        write_access_log("GET", f"/p{n}", 200, 0.1, f"r{n}")
    assert batched.writes == []  # held until the loop turns
    await asyncio.sleep(0)
    assert len(batched.writes) == 1
    assert [line["path"] for line in batched.lines()] == [f"/p{n}" for n in range(5)]
    write_access_log("GET", "/next", 200, 0.1, "r5")
    await asyncio.sleep(0)
    assert len(batched.writes) == 2  # a later turn: a write of its own


def test_without_a_running_loop_the_line_is_written_at_once(batched: CountingStdout) -> None:
    with contextlib.redirect_stdout(batched):
        write_access_log("GET", "/sync", 200, 0.1, "r1")
    assert [line["path"] for line in batched.lines()] == ["/sync"]


def test_lines_held_when_the_loop_stops_are_written_at_exit() -> None:
    # The loop stops in the turn that wrote the line, so the turn's flush never runs.
    program = """
import asyncio
from service.logging import batch_access_log, configure_logging, write_access_log
configure_logging("INFO")
batch_access_log()
loop = asyncio.new_event_loop()
loop.call_soon(write_access_log, "GET", "/last", 200, 0.1, "r1")
loop.call_soon(loop.stop)
loop.run_forever()
loop.close()
"""
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert [json.loads(line)["path"] for line in result.stdout.splitlines()] == ["/last"]


async def test_every_request_is_logged_when_batched(
    batched: CountingStdout, tmp_path: Path
) -> None:
    settings = make_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
    with contextlib.redirect_stdout(batched):
        async with open_client(settings, create_server_app(settings)) as client:
            responses = await asyncio.gather(*(client.get("/health") for _ in range(20)))
            assert {response.status_code for response in responses} == {200}
            await asyncio.sleep(0)
    ids = [line["request_id"] for line in batched.lines() if line.get("component") == "access"]
    assert sorted(ids) == sorted(response.headers["x-request-id"] for response in responses)


def test_batching_is_switched_on_once_and_flushes_at_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    registered: list[object] = []
    monkeypatch.setattr(service_logging, "_batch_access_log", False)
    monkeypatch.setattr(service_logging.atexit, "register", registered.append)
    service_logging.batch_access_log()
    service_logging.batch_access_log()
    assert service_logging._batch_access_log
    assert registered == [flush_access_log]
