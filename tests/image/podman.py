"""The container engine the image tests drive: podman (default) or docker.

``IMAGE_ENGINE=podman`` (the default) runs ``podman --runtime runc``: crun
refuses the hybrid cgroup layout of the machines this runs on. With
``IMAGE_ENGINE=docker`` (CI, against the real base images) the same calls go
to ``docker``; every option used here means the same thing to both engines,
except where :data:`ENGINE` is checked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import Any

ENGINE = os.environ.get("IMAGE_ENGINE", "podman")
if ENGINE not in ("podman", "docker"):
    raise RuntimeError(f"IMAGE_ENGINE must be podman or docker, not {ENGINE!r}")

PODMAN: list[str] = ["podman", "--runtime", "runc"] if ENGINE == "podman" else ["docker"]

# --network host: the test PostgreSQL and Redis listen on 127.0.0.1 only.
# The ulimits: podman's defaults exceed this machine's hard limits (and they
# are what Fargate gives a task by default for nofile: 65535 soft/hard would
# fail here, 4096 is enough for the service).
BASE_RUN_OPTIONS: list[str] = [
    "--network",
    "host",
    "--ulimit",
    "nofile=4096:4096",
    "--ulimit",
    "nproc=4096:4096",
]


class EngineError(RuntimeError):
    """An engine command failed; the message carries its command line and stderr."""


def available() -> str | None:
    """None when the engine can run containers here, else why not (for skip/fail messages)."""
    if shutil.which(PODMAN[0]) is None:
        return f"{PODMAN[0]} is not installed"
    probe = subprocess.run(
        [*PODMAN, "info"], capture_output=True, text=True, timeout=60, check=False
    )
    if probe.returncode != 0:
        return f"`{' '.join(PODMAN)} info` failed: {probe.stderr.strip()[-500:]}"
    return None


def run(args: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run ``PODMAN + args``; raise :class:`EngineError` with stderr when it fails.

    Keyword arguments go to :func:`subprocess.run` (``check=False`` returns
    the failed process instead of raising; ``timeout`` defaults to 600 s).
    """
    check = kw.pop("check", True)
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 600)
    completed: subprocess.CompletedProcess[str] = subprocess.run([*PODMAN, *args], **kw)
    if check and completed.returncode != 0:
        raise EngineError(
            f"`{' '.join([*PODMAN, *args])}` exited {completed.returncode}:\n"
            f"{(completed.stderr or '').strip()[-4000:]}"
        )
    return completed


@dataclass
class Container:
    """A detached container started by :meth:`start`."""

    id: str
    name: str | None = None

    @classmethod
    def start(
        cls,
        image: str,
        options: list[str],
        command: list[str] | None = None,
        name: str | None = None,
    ) -> Container:
        """``run --detach`` with ``options`` (add :data:`BASE_RUN_OPTIONS` yourself)."""
        named = ["--name", name] if name else []
        completed = run(["run", "--detach", *named, *options, image, *(command or [])])
        return cls(id=completed.stdout.strip().splitlines()[-1], name=name)

    def logs(self) -> str:
        """Everything the container wrote to stdout and stderr so far (stdout first)."""
        completed = run(["logs", self.id], check=False)
        return completed.stdout + completed.stderr

    def exec(self, cmd: list[str], user: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` inside the container (as ``user`` when given); never raises on failure."""
        as_user = ["--user", user] if user else []
        return run(["exec", *as_user, self.id, *cmd], check=False, timeout=120)

    def stop(self, timeout: int) -> float:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; return the seconds it took."""
        started = time.monotonic()
        run(["stop", "-t", str(timeout), self.id], timeout=timeout + 60)
        return time.monotonic() - started

    def remove(self) -> None:
        """Remove the container (and its anonymous volumes), running or not."""
        run(["rm", "--force", "--volumes", self.id], check=False, timeout=120)

    def is_running(self) -> bool:
        """True while the container's main process runs."""
        completed = run(["inspect", "--format", "{{.State.Running}}", self.id], check=False)
        return completed.returncode == 0 and completed.stdout.strip() == "true"

    def exit_code(self) -> int:
        """The exit code recorded for a stopped container."""
        completed = run(["inspect", "--format", "{{.State.ExitCode}}", self.id])
        return int(completed.stdout.strip())

    def wait(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for the container to exit; return its exit code."""
        deadline = time.monotonic() + timeout
        while self.is_running():
            if time.monotonic() > deadline:
                who = self.name or self.id[:12]
                raise TimeoutError(f"container {who} still runs after {timeout} s")
            time.sleep(0.2)
        return self.exit_code()
