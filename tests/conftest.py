"""Collection control for the whole suite.

tests/image/ builds and runs the real container images (minutes, a container
engine, about 2 GB of disk): ``make test-image`` runs it, ``make test`` must
not, so nothing runs twice. It is left out of collection unless it was asked
for: a path inside tests/image/ named on the command line (``pytest
tests/image``, ``pytest tests/image/test_service_image.py::test_x``) or
``RUN_IMAGE_TESTS=1`` (set by ``make test-image``). ``--ignore`` or
``collect_ignore`` would also block an explicitly named path, hence the hook.

Under pytest-xdist (``make test`` runs ``-n 2``) each worker gets PostgreSQL
and Redis databases of its own: see tests/workers.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.workers import isolate_worker

IMAGE_TESTS = Path(__file__).resolve().parent / "image"


def _named_on_command_line(config: pytest.Config) -> bool:
    """True when a command-line argument is tests/image/ or a path inside it."""
    base = config.invocation_params.dir
    for arg in config.args:
        path = (base / arg.split("::", 1)[0]).resolve()
        if path == IMAGE_TESTS or IMAGE_TESTS in path.parents:
            return True
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Skip collecting tests/image/ unless it was asked for (see the module docstring)."""
    if collection_path != IMAGE_TESTS:
        return None
    if os.environ.get("RUN_IMAGE_TESTS") == "1" or _named_on_command_line(config):
        return None
    return True


def pytest_configure(config: pytest.Config) -> None:
    """In an xdist worker, point the TEST_* service URLs at the worker's own databases."""
    # workerinput exists only in a worker process; PYTEST_XDIST_WORKER would also be
    # inherited by a pytest that a test starts as a subprocess.
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return
    try:
        isolate_worker(workerinput["workerid"])
    except ValueError as error:
        raise pytest.UsageError(str(error)) from error
