"""The Dockerfile facts infra relies on (port, user, targets) and B16, parsed offline."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from typing import Any

import pytest

from infra.components.registry import BUILD_INPUT_DIRS, BUILD_INPUT_FILES
from tests.infra.harness import REPO_ROOT

CONTAINER_PORT = 8000  # docs/contracts.md


@dataclass
class Stage:
    """One build stage: its base, name and instructions (keyword, argument)."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse_dockerfile(text: str) -> list[Stage]:
    """Stages of a Dockerfile (comments dropped, continuation lines joined)."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, argument = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = argument.split()
            parts = [p for p in parts if not p.startswith("--")]
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base=parts[0], name=name))
        else:
            stages[-1].instructions.append((keyword, argument.strip()))
    return stages


STAGES = parse_dockerfile((REPO_ROOT / "Dockerfile").read_text())
BY_NAME = {stage.name: stage for stage in STAGES if stage.name}


def chain(target: str) -> list[Stage]:
    """The stage and the stages it is built FROM, base first."""
    stages = [BY_NAME[target]]
    while stages[0].base in BY_NAME:
        stages.insert(0, BY_NAME[stages[0].base])
    return stages


def effective(target: str, keyword: str) -> list[str]:
    """Arguments of ``keyword`` along a target's stage chain, in order."""
    return [arg for stage in chain(target) for kw, arg in stage.instructions if kw == keyword]


def env_of(target: str) -> dict[str, str]:
    """ENV values visible in a target (KEY=VALUE forms)."""
    values: dict[str, str] = {}
    for argument in effective(target, "ENV"):
        for token in shlex.split(argument):
            key, sep, value = token.partition("=")
            if sep:
                values[key] = value
    return values


def test_targets_service_and_lambda_exist() -> None:
    """The two targets infra builds (RegistryArgs.target) are defined."""
    assert {"service", "lambda"} <= set(BY_NAME)


def test_b16_base_images_are_pinned() -> None:
    """B16: every external base image has an explicit version tag (never latest)."""
    external = [stage.base for stage in STAGES if stage.base not in BY_NAME]
    assert external
    for image in external:
        name, _, tag = image.rpartition(":")
        assert name, f"{image} has no tag"
        assert tag != "latest"
        assert re.fullmatch(r"\d+\.\d+(\.\d+)?([-.][a-z0-9.-]+)?", tag), image
    assert any(image.startswith("python:3.12.") for image in external)
    assert any(image.startswith("ghcr.io/astral-sh/uv:") for image in external)


@pytest.mark.parametrize("target", ["service", "lambda"])
def test_b16_runs_as_a_non_root_user(target: str) -> None:
    """B16: the last USER of each target is a fixed, non-root uid."""
    users = effective(target, "USER")
    assert users
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert user.isdigit()
    assert int(user) >= 1000


@pytest.mark.parametrize("target", ["service", "lambda"])
def test_port_and_host_match_the_contract(target: str) -> None:
    """EXPOSE 8000, HOST=0.0.0.0 and PORT=8000, as docs/contracts.md and the task definition say."""
    assert effective(target, "EXPOSE") == [str(CONTAINER_PORT)]
    env = env_of(target)
    assert env["HOST"] == "0.0.0.0"  # noqa: S104 (the container must listen on all interfaces)
    assert env["PORT"] == str(CONTAINER_PORT)


def test_service_target_serves_with_the_service_cli() -> None:
    """Target service runs `python -m service serve` (migrate, then uvicorn)."""
    assert effective("service", "CMD")[-1] == '["python", "-m", "service", "serve"]'
    assert not effective("service", "ENTRYPOINT")


def test_lambda_target_runs_the_handler_under_the_runtime_interface() -> None:
    """Target lambda: the runtime interface client with lambda_handler.handler."""
    assert effective("lambda", "ENTRYPOINT")[-1] == '["python", "-m", "awslambdaric"]'
    assert effective("lambda", "CMD")[-1] == '["lambda_handler.handler"]'
    copies = " ".join(effective("lambda", "COPY"))
    assert "lambda_handler.py" in copies
    assert "service" in copies


def test_b16_no_urls_added_no_tls_disabled_no_secrets() -> None:
    """B16: no ADD (of URLs or otherwise), no disabled TLS checks, no secret build args/env."""
    text = (REPO_ROOT / "Dockerfile").read_text()
    for stage in STAGES:
        for keyword, argument in stage.instructions:
            assert keyword != "ADD", argument
            if keyword in ("ARG", "ENV"):
                assert not re.search(r"PASSWORD|SECRET|TOKEN|API_KEY", argument, re.I), argument
    for flag in ("--no-check-certificate", "--insecure", "trusted-host", "verify=False", "curl -k"):
        assert flag not in text


def reachable(target: str) -> list[Stage]:
    """Every stage a target needs (FROM chains and COPY --from), dependencies first."""
    ordered: list[Stage] = []

    def visit(name: str) -> None:
        stage = BY_NAME[name]
        if stage in ordered:
            return
        if stage.base in BY_NAME:
            visit(stage.base)
        for keyword, argument in stage.instructions:
            match = re.match(r"--from=(\S+)", argument)
            if keyword == "COPY" and match and match.group(1) in BY_NAME:
                visit(match.group(1))
        ordered.append(stage)

    visit(target)
    return ordered


def _sync_commands(target: str) -> list[list[str]]:
    commands = []
    runs = [arg for stage in reachable(target) for kw, arg in stage.instructions if kw == "RUN"]
    for argument in runs:
        words = [w for w in shlex.split(argument) if not w.startswith("--mount")]
        if "uv" in words and "sync" in words:
            commands.append(words[words.index("uv") :])
    return commands


def test_service_installs_exactly_the_locked_runtime_dependencies() -> None:
    """uv sync --frozen --no-default-groups --no-install-project: the lock's runtime set only."""
    (command,) = _sync_commands("service")
    assert {"--frozen", "--no-default-groups", "--no-install-project"} <= set(command)
    assert not {"--group", "--all-groups", "--extra", "--all-extras", "--dev"} & set(command)
    copies = [
        arg for stage in reachable("service") for kw, arg in stage.instructions if kw == "COPY"
    ]
    assert any(c.split()[:2] == ["pyproject.toml", "uv.lock"] for c in copies)


def test_lambda_adds_only_the_lambda_group() -> None:
    """The lambda target syncs the same lock plus the `lambda` group, nothing else."""
    commands = _sync_commands("lambda")
    assert commands[0] == _sync_commands("service")[0]
    extra = commands[-1]
    groups = [extra[i + 1] for i, word in enumerate(extra) if word == "--group"]
    assert groups == ["lambda"]
    assert "--no-default-groups" in extra


def _lock() -> dict[str, dict[str, object]]:
    data = tomllib.loads((REPO_ROOT / "uv.lock").read_text())
    return {package["name"]: package for package in data["package"]}


def _closure(lock: dict[str, dict[str, object]], roots: list[dict[str, object]]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        dep = todo.pop()
        name = str(dep["name"])
        extras = list(dep.get("extra", []))  # type: ignore[call-overload]
        key = name + "[" + ",".join(sorted(extras)) + "]"
        if key in seen:
            continue
        seen.add(key)
        package = lock[name]
        todo.extend(package.get("dependencies", []))  # type: ignore[arg-type]
        optional = package.get("optional-dependencies", {})
        for extra in extras:
            todo.extend(optional.get(extra, []))  # type: ignore[union-attr]
    return {key.split("[")[0] for key in seen}


def test_runtime_set_from_the_lock_excludes_tooling() -> None:
    """The lock's runtime closure has the service's dependencies and none of dev/infra tooling."""
    lock = _lock()
    project = lock["fastapi-on-aws"]
    runtime = _closure(lock, list(project["dependencies"]))  # type: ignore[call-overload]
    declared = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for requirement in declared:
        assert re.split(r"[\[<>=!~; ]", requirement)[0].lower() in runtime
    for tool in ("pytest", "mypy", "ruff", "pulumi", "pulumi-aws", "moto", "awslambdaric"):
        assert tool not in runtime
    groups = project["dev-dependencies"]
    lambda_only = _closure(lock, list(groups["lambda"])) - runtime  # type: ignore[index]
    assert "awslambdaric" in lambda_only
    assert not {"pytest", "pulumi"} & lambda_only


def test_every_copied_file_feeds_the_image_tag() -> None:
    """Each path COPY'd from the build context is hashed into the tag and not docker-ignored."""
    ignore = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    hashed = set(BUILD_INPUT_FILES) | set(BUILD_INPUT_DIRS)
    for stage in STAGES:
        for keyword, argument in stage.instructions:
            if keyword != "COPY" or argument.startswith("--from"):
                continue
            sources = [w for w in argument.split() if not w.startswith("--")][:-1]
            for source in sources:
                assert source.rstrip("/") in hashed, source
                included = False
                for pattern in ignore:
                    negated = pattern.startswith("!")
                    if fnmatch.fnmatch(source, pattern.lstrip("!").rstrip("/")):
                        included = negated
                assert included, f"{source} is excluded by .dockerignore"


def _volumes(target: str) -> set[str]:
    """Paths declared with VOLUME along a target's chain (JSON or plain form)."""
    paths: set[str] = set()
    for argument in effective(target, "VOLUME"):
        words = json.loads(argument) if argument.startswith("[") else argument.split()
        paths.update(str(word).rstrip("/") or "/" for word in words)
    return paths


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_service_declares_a_volume_at_every_task_storage_mount(
    build_stack: Any, stack: str
) -> None:
    """Each task-storage mountPoint is a VOLUME of the service target, left 1777.

    Fargate (platform 1.4) mounts task storage root:root 0755 unless the image
    declares a VOLUME at exactly that path, in which case the volume starts as
    a copy of the image's directory. With a read-only root the app user 10001
    could not write its /tmp otherwise (tests/image/ proves it on the image).
    """
    task = build_stack(stack, compute="fargate").one("aws:ecs/taskDefinition:TaskDefinition")
    (container,) = json.loads(task.inputs["containerDefinitions"])
    task_storage = {v["name"] for v in task.inputs.get("volumes") or [] if set(v) == {"name"}}
    mounts = [m for m in container.get("mountPoints", []) if m["sourceVolume"] in task_storage]
    assert mounts, "the task mounts no task storage: nothing to check"
    runs = " ".join(effective("service", "RUN"))
    for mount in mounts:
        path = mount["containerPath"].rstrip("/")
        assert path in _volumes("service"), f"no VOLUME {path} in the service target"
        if not mount.get("readOnly"):
            assert re.search(rf"chmod\s+1777\s+{re.escape(path)}(\s|$)", runs), (
                f"{path} must be made 1777 in the image: the volume copies its mode"
            )
