"""Translate an ECS container definition into container-engine ``run`` options.

Pure: no engine, no file system. The image tests run the ``service`` image the
way the task definition says Fargate runs it; the unit tests in
tests/infra/test_image_run_options.py pin the translation itself.

Fargate's rule for task storage (a task ``volume`` with no host path, mounted
through ``mountPoints``), platform version 1.4.0: the bind mount is owned by
root:root with mode 0755, so a non-root user cannot write it, UNLESS the image
declares a ``VOLUME`` at exactly that ``containerPath``; then the volume starts
as a copy of the image's directory (its contents, owner and mode). See the AWS
ECS developer guide, "Bind mount examples" ("To expose a path and its contents
in a Dockerfile to a container": "By default, the volume permissions are set to
0755 and the owner as root. These permissions can be customized in the
Dockerfile") and aws/containers-roadmap#938. :func:`fargate_volumes` states what
each host directory must look like; the caller creates them.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

# What Fargate gives task storage that the image does not declare as a VOLUME.
FARGATE_DEFAULT_OWNER = "0:0"
FARGATE_DEFAULT_MODE = 0o755


@dataclass(frozen=True)
class FargateVolume:
    """How one mountPoint's host directory must be prepared to look like Fargate's."""

    source_volume: str
    container_path: str
    read_only: bool
    # True: start as a copy of the image's directory at container_path (contents,
    # owner, mode). False: empty, owner/mode below.
    from_image: bool
    owner: str = FARGATE_DEFAULT_OWNER
    mode: int = FARGATE_DEFAULT_MODE

    def describe(self) -> str:
        """How Fargate mounts it, in words, for failure messages."""
        if self.from_image:
            return (
                f"task volume {self.source_volume!r} at {self.container_path}: the image declares "
                "VOLUME there, so Fargate starts it as a copy of the image's directory "
                "(contents, owner, mode)"
            )
        return (
            f"task volume {self.source_volume!r} at {self.container_path}: Fargate mounts task "
            f"storage as {'root:root' if self.owner == '0:0' else self.owner} "
            f"{self.mode:04o} because the image declares no VOLUME at {self.container_path}"
        )


class UnsupportedDefinitionError(ValueError):
    """The container definition uses something this translation cannot emulate."""


def _normal(path: str) -> str:
    return str(PurePosixPath(path))


def fargate_volumes(
    container: Mapping[str, Any],
    task_volumes: Sequence[Mapping[str, Any]] | None,
    image_volumes: Iterable[str],
) -> list[FargateVolume]:
    """One :class:`FargateVolume` per mountPoint, by Fargate's ownership rule.

    ``image_volumes`` are the paths the image declares with ``VOLUME`` (from
    ``image inspect``: ``.Config.Volumes``).
    """
    declared = {_normal(path) for path in image_volumes}
    by_name = {str(volume["name"]): volume for volume in task_volumes or []}
    result = []
    for mount in container.get("mountPoints") or []:
        name = str(mount["sourceVolume"])
        if name not in by_name:
            raise UnsupportedDefinitionError(
                f"mountPoint {mount['containerPath']} names volume {name!r}, "
                f"which the task does not define (volumes: {sorted(by_name)})"
            )
        volume = by_name[name]
        if set(volume) - {"name"}:
            raise UnsupportedDefinitionError(
                f"volume {name!r} is not plain task storage ({sorted(set(volume) - {'name'})}): "
                "only bind mounts with no host path are emulated"
            )
        path = _normal(str(mount["containerPath"]))
        result.append(
            FargateVolume(
                source_volume=name,
                container_path=path,
                read_only=bool(mount.get("readOnly", False)),
                from_image=path in declared,
            )
        )
    return result


def health_check_command(container: Mapping[str, Any]) -> list[str]:
    """The container definition's ``healthCheck.command`` as an argv for ``exec``.

    ``["CMD", *argv]`` runs argv; ``["CMD-SHELL", script]`` runs it with ``sh -c``.
    """
    command = list(container["healthCheck"]["command"])
    if command[0] == "CMD":
        return command[1:]
    if command[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(command[1:])]
    return command


def run_options(
    container: Mapping[str, Any],
    task_volumes: Sequence[Mapping[str, Any]] | None,
    *,
    image_volumes: Iterable[str],
    volume_dirs: Mapping[str, str],
    secret_values: Mapping[str, str],
    env_overrides: Mapping[str, str] | None = None,
    engine: str = "podman",
) -> list[str]:
    """``run`` options that reproduce the container definition's runtime constraints.

    ``volume_dirs`` maps each mountPoint's containerPath to the host directory
    the caller prepared by :func:`fargate_volumes`; ``secret_values`` gives a
    test value for every name in ``secrets``; ``env_overrides`` replaces
    environment values (the caller lists them as substitutions).
    Raises :class:`UnsupportedDefinitionError` for what cannot be emulated.
    """
    options: list[str] = []
    user = container.get("user")
    if user:
        options += ["--user", str(user)]
    if container.get("readonlyRootFilesystem"):
        options.append("--read-only")
        if engine == "podman":
            # podman adds tmpfs on /tmp, /var/tmp and /run to a read-only root
            # by default; Fargate adds none, so neither may the emulation.
            options.append("--read-only-tmpfs=false")
    linux = container.get("linuxParameters") or {}
    capabilities = linux.get("capabilities") or {}
    for capability in capabilities.get("drop") or []:
        options += ["--cap-drop", str(capability)]
    for capability in capabilities.get("add") or []:
        options += ["--cap-add", str(capability)]
    if linux.get("initProcessEnabled"):
        options.append("--init")
    if linux.get("tmpfs") or linux.get("devices") or linux.get("sharedMemorySize"):
        raise UnsupportedDefinitionError("linuxParameters tmpfs/devices/sharedMemorySize")
    for volume in fargate_volumes(container, task_volumes, image_volumes):
        if volume.container_path not in volume_dirs:
            raise UnsupportedDefinitionError(
                f"no host directory prepared for {volume.container_path}"
            )
        mode = "ro" if volume.read_only else "rw"
        options += [
            "--volume",
            f"{volume_dirs[volume.container_path]}:{volume.container_path}:{mode}",
        ]
    environment = {
        str(item["name"]): str(item["value"]) for item in container.get("environment") or []
    }
    for secret in container.get("secrets") or []:
        name = str(secret["name"])
        if name not in secret_values:
            raise UnsupportedDefinitionError(f"no test value for secret {name}")
        environment[name] = secret_values[name]
    environment.update(env_overrides or {})
    for name in sorted(environment):
        options += ["--env", f"{name}={environment[name]}"]
    if container.get("stopTimeout") is not None:
        options += ["--stop-timeout", str(int(container["stopTimeout"]))]
    if container.get("workingDirectory"):
        options += ["--workdir", str(container["workingDirectory"])]
    if container.get("entryPoint"):
        raise UnsupportedDefinitionError("entryPoint overrides are not emulated")
    return options


def command_of(container: Mapping[str, Any]) -> list[str]:
    """The container definition's ``command`` (empty: the image's CMD)."""
    return [str(word) for word in container.get("command") or []]


def shell_line(options: Sequence[str]) -> str:
    """Options as one copy-pasteable shell line (for failure messages)."""
    return shlex.join(options)
