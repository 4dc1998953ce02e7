"""The image tests' wiring: the CI job, the engine switch of scripts/image/prepare.sh,
and the collection rule that keeps tests/image/ out of ``make test``.

prepare.sh is run here against fake ``docker``/``podman`` executables that
record their calls, so the engine switch is tested without any engine.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests import conftest as suite_conftest
from tests.ci.test_workflows import CI, jobs, steps_using

ROOT = Path(__file__).resolve().parents[2]
PREPARE = ROOT / "scripts" / "image" / "prepare.sh"


def _image_job() -> dict[str, Any]:
    (job,) = [
        job
        for job in jobs(CI).values()
        if any(step.get("run") == "make test-image" for step in job["steps"])
    ]
    return job


def _dockerfile_bases() -> list[str]:
    """External FROM images of the Dockerfile (what prepare.sh must provide)."""
    stages: set[str] = set()
    bases = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        words = line.split()
        if words and words[0].upper() == "FROM":
            image = next(word for word in words[1:] if not word.startswith("--"))
            if image not in stages:
                bases.append(image)
            if len(words) >= 4 and words[-2].upper() == "AS":
                stages.add(words[-1])
    return bases


# --------------------------------------------------------------------- ci.yml


def test_ci_runs_the_image_suite_with_docker_and_least_privilege() -> None:
    """One job runs ``make test-image`` with IMAGE_ENGINE=docker, contents: read only."""
    job = _image_job()
    assert job["env"]["IMAGE_ENGINE"] == "docker"
    assert job["permissions"] == {"contents": "read"}
    assert job.get("timeout-minutes"), "the image job needs a timeout"
    checkout = steps_using(job, "actions/checkout")
    assert checkout, "the image job checks out the repository"
    assert checkout[0]["with"]["persist-credentials"] is False
    assert steps_using(job, "astral-sh/setup-uv")
    # The suite's own TLS PostgreSQL and Redis need their server binaries.
    installs = " ".join(str(step.get("run", "")) for step in job["steps"])
    assert "postgresql" in installs
    assert "redis-server" in installs
    for step in job["steps"]:
        assert "${{" not in str(step.get("run", ""))


def test_image_job_pins_the_same_actions_as_the_other_jobs() -> None:
    """checkout and setup-uv at the commit every other job uses (one pin to bump)."""
    text = CI.read_text()
    for action in ("actions/checkout", "astral-sh/setup-uv"):
        pins = set(re.findall(rf"uses: {re.escape(action)}@([0-9a-f]{{40}})", text))
        assert len(pins) == 1, f"{action} is pinned to several commits: {pins}"


# ----------------------------------------------------------------- prepare.sh


def _fake_engine(tmp_path: Path, name: str, script: str) -> dict[str, str]:
    """A PATH where ``name`` (and runc/debootstrap) are recording fakes."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    fake = bin_dir / name
    fake.write_text(f'#!/usr/bin/env bash\necho "{name} $*" >> {log}\n{script}\n')
    fake.chmod(0o755)
    for extra in ("runc", "debootstrap"):
        other = bin_dir / extra
        other.write_text(f'#!/usr/bin/env bash\necho "{extra} $*" >> {log}\nexit 1\n')
        other.chmod(0o755)
    return {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "IMAGE_TESTS_NEED_MB": "1",
        "TMPDIR": str(tmp_path),
    }


def _run_prepare(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(PREPARE)], env=env, capture_output=True, text=True, timeout=60, check=False
    )


DOCKER_FAKE = """
case "$1" in
  info) [ "$2" = --format ] && echo "$TMPDIR"; exit 0 ;;
  --version) echo "Docker version 0.0-fake"; exit 0 ;;
  image) exit 1 ;;   # image inspect: nothing is present yet
  pull) exit 0 ;;
  *) exit 3 ;;
esac
"""


def test_docker_engine_pulls_the_real_base_images_and_builds_no_stand_in(tmp_path: Path) -> None:
    """IMAGE_ENGINE=docker: `docker pull` of each Dockerfile base; no import, no debootstrap."""
    env = _fake_engine(tmp_path, "docker", DOCKER_FAKE)
    env["IMAGE_ENGINE"] = "docker"
    result = _run_prepare(env)
    assert result.returncode == 0, result.stdout + result.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    bases = _dockerfile_bases()
    assert len(bases) == 2
    for image in bases:
        assert any(call.startswith(f"docker pull --quiet {image}") for call in calls), calls
    assert not [call for call in calls if " import " in f" {call} " or "debootstrap" in call]


def test_podman_keeps_base_images_already_in_its_store(tmp_path: Path) -> None:
    """A stand-in (or real image) already in podman's store is not rebuilt: no registry, no work."""
    podman_fake = """
case "$*" in
  "--runtime runc info --format {{.Store.GraphRoot}}") echo "$TMPDIR"; exit 0 ;;
  "--runtime runc info") exit 0 ;;
  "--runtime runc --version") echo "podman version 0.0-fake"; exit 0 ;;
  "--runtime runc image exists "*) exit 0 ;;
  *) exit 3 ;;
esac
"""
    env = _fake_engine(tmp_path, "podman", podman_fake)
    env["IMAGE_ENGINE"] = "podman"
    result = _run_prepare(env)
    assert result.returncode == 0, result.stdout + result.stderr
    calls = (tmp_path / "calls.log").read_text()
    for image in _dockerfile_bases():
        assert f"image exists {image}" in calls
        assert f"base image {image}: present, kept" in result.stdout
    assert " import " not in calls
    assert "debootstrap" not in calls


def test_too_little_disk_fails_with_a_clear_message(tmp_path: Path) -> None:
    """Less free space than the images need stops before any build, saying how much."""
    env = _fake_engine(tmp_path, "docker", DOCKER_FAKE)
    env.update(IMAGE_ENGINE="docker", IMAGE_TESTS_NEED_MB=str(10**12))
    result = _run_prepare(env)
    assert result.returncode != 0
    assert "the image tests need about" in result.stderr
    assert "pull" not in (tmp_path / "calls.log").read_text()


def test_an_unknown_engine_is_refused(tmp_path: Path) -> None:
    """IMAGE_ENGINE must be podman or docker."""
    env = _fake_engine(tmp_path, "docker", DOCKER_FAKE)
    env["IMAGE_ENGINE"] = "nerdctl"
    result = _run_prepare(env)
    assert result.returncode != 0
    assert "IMAGE_ENGINE must be podman or docker" in result.stderr


# ----------------------------------------------------------------- collection


def _config(args: list[str]) -> Any:
    return SimpleNamespace(args=args, invocation_params=SimpleNamespace(dir=ROOT))


@pytest.mark.parametrize(
    ("args", "env", "ignored"),
    [
        ([], {}, True),
        (["tests"], {}, True),
        (["tests/infra"], {}, True),
        (["tests/image"], {}, False),
        (["tests/image/test_service_image.py::test_x"], {}, False),
        (["tests"], {"RUN_IMAGE_TESTS": "1"}, False),
        (["tests"], {"RUN_IMAGE_TESTS": "0"}, True),
    ],
)
def test_image_tests_are_collected_only_when_asked_for(
    args: list[str], env: dict[str, str], ignored: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plain `pytest` / `make test` leave tests/image/ out; naming it or RUN_IMAGE_TESTS=1 don't."""
    monkeypatch.delenv("RUN_IMAGE_TESTS", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    decision = suite_conftest.pytest_ignore_collect(suite_conftest.IMAGE_TESTS, _config(args))
    assert (decision is True) == ignored
    other = ROOT / "tests" / "infra"
    assert suite_conftest.pytest_ignore_collect(other, _config(args)) is None


def test_plain_pytest_collects_no_image_test_and_an_explicit_path_does() -> None:
    """The real collection, in a subprocess: the hook works as pytest calls it."""

    def collect(*args: str) -> str:
        env = {k: v for k, v in os.environ.items() if k != "RUN_IMAGE_TESTS"}
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "--collect-only",
                "-q",
                "-p",
                "no:cacheprovider",
                *args,
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    assert "tests/image/" not in collect("tests")
    assert "tests/image/test_service_image.py::" in collect("tests/image/test_service_image.py")
