"""The container-definition -> ``run`` options translation the image tests rely on.

tests/image/ runs the real image with these options; here the translation
itself is pinned, offline, on the prod task definition and on variations of
it: each constraint that matters (user, read-only root, mounts and Fargate's
ownership rule) must change the options when the definition changes.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.image.run_options import (
    FARGATE_DEFAULT_MODE,
    FARGATE_DEFAULT_OWNER,
    UnsupportedDefinitionError,
    command_of,
    fargate_volumes,
    health_check_command,
    run_options,
)
from tests.infra.harness import StackResult

SECRETS = {"API_TOKEN": "t" * 40, "DATABASE_PASSWORD": "db-pw", "REDIS_PASSWORD": "redis-pw"}


@pytest.fixture(scope="module")
def prod_task(build_stack: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The prod Fargate task's container definition and volumes."""
    stack: StackResult = build_stack("prod", compute="fargate")
    task = stack.one("aws:ecs/taskDefinition:TaskDefinition")
    (container,) = json.loads(task.inputs["containerDefinitions"])
    return container, list(task.inputs.get("volumes") or [])


def _options(
    container: dict[str, Any],
    volumes: list[dict[str, Any]],
    image_volumes: tuple[str, ...] = (),
    engine: str = "podman",
) -> list[str]:
    dirs = {m["containerPath"]: f"/host{m['containerPath']}" for m in container["mountPoints"]}
    return run_options(
        container,
        volumes,
        image_volumes=image_volumes,
        volume_dirs=dirs,
        secret_values=SECRETS,
        engine=engine,
    )


def _value_after(options: list[str], flag: str) -> list[str]:
    return [options[i + 1] for i, option in enumerate(options) if option == flag]


def test_prod_task_translates_to_every_constraint(prod_task: Any) -> None:
    """User, read-only root (no podman tmpfs), cap drop, init, mount, env, secrets, stop timeout."""
    container, volumes = prod_task
    options = _options(container, volumes)
    assert _value_after(options, "--user") == [container["user"]]
    assert "--read-only" in options
    assert "--read-only-tmpfs=false" in options
    assert _value_after(options, "--cap-drop") == ["ALL"]
    assert "--init" in options
    assert _value_after(options, "--volume") == ["/host/tmp:/tmp:rw"]
    env = dict(item.split("=", 1) for item in _value_after(options, "--env"))
    assert env["ENVIRONMENT"] == "production"
    assert env["DATABASE_URL"].endswith("?ssl=require")
    for name, value in SECRETS.items():
        assert env[name] == value
    assert _value_after(options, "--stop-timeout") == [str(container["stopTimeout"])]
    assert command_of(container) == ["python", "-m", "service", "serve"]


def test_docker_gets_no_podman_only_flag(prod_task: Any) -> None:
    """docker has no tmpfs on a read-only root by default, and no --read-only-tmpfs flag."""
    container, volumes = prod_task
    options = _options(container, volumes, engine="docker")
    assert "--read-only" in options
    assert "--read-only-tmpfs=false" not in options


def test_changing_the_user_changes_the_options(prod_task: Any) -> None:
    """Another ``user`` is passed on; no ``user`` means the image's own USER."""
    container, volumes = copy.deepcopy(prod_task)
    container["user"] = "20002:20002"
    assert _value_after(_options(container, volumes), "--user") == ["20002:20002"]
    del container["user"]
    assert "--user" not in _options(container, volumes)


def test_read_only_root_follows_the_definition(prod_task: Any) -> None:
    """readonlyRootFilesystem false: no --read-only."""
    container, volumes = copy.deepcopy(prod_task)
    container["readonlyRootFilesystem"] = False
    options = _options(container, volumes)
    assert "--read-only" not in options
    assert "--read-only-tmpfs=false" not in options


def test_mount_points_follow_the_definition(prod_task: Any) -> None:
    """A moved or read-only mountPoint changes --volume; a second one adds one."""
    container, volumes = copy.deepcopy(prod_task)
    container["mountPoints"][0]["containerPath"] = "/var/scratch"
    assert _value_after(_options(container, volumes), "--volume") == [
        "/host/var/scratch:/var/scratch:rw"
    ]
    container["mountPoints"][0]["readOnly"] = True
    assert _value_after(_options(container, volumes), "--volume") == [
        "/host/var/scratch:/var/scratch:ro"
    ]
    volumes.append({"name": "cache"})
    container["mountPoints"].append({"sourceVolume": "cache", "containerPath": "/cache"})
    assert len(_value_after(_options(container, volumes), "--volume")) == 2


def test_fargate_ownership_rule_depends_on_the_image_volume(prod_task: Any) -> None:
    """root:root 0755 unless the image declares VOLUME at exactly the containerPath."""
    container, volumes = prod_task
    (plain,) = fargate_volumes(container, volumes, image_volumes=[])
    assert not plain.from_image
    assert (
        (plain.owner, plain.mode) == (FARGATE_DEFAULT_OWNER, FARGATE_DEFAULT_MODE) == ("0:0", 0o755)
    )
    assert "root:root 0755" in plain.describe()
    (declared,) = fargate_volumes(container, volumes, image_volumes=["/tmp/"])
    assert declared.from_image
    # A VOLUME elsewhere (a parent or a child path) does not count.
    for other in (["/"], ["/tmp/cache"], ["/var/tmp"]):
        (volume,) = fargate_volumes(container, volumes, image_volumes=other)
        assert not volume.from_image, other


def test_unknown_or_non_task_storage_volumes_are_refused(prod_task: Any) -> None:
    """A mountPoint naming no task volume, or an EFS/host volume, cannot be emulated silently."""
    container, volumes = copy.deepcopy(prod_task)
    with pytest.raises(UnsupportedDefinitionError, match="does not define"):
        fargate_volumes(container, [], image_volumes=[])
    volumes[0]["efsVolumeConfiguration"] = {"fileSystemId": "fs-1"}
    with pytest.raises(UnsupportedDefinitionError, match="not plain task storage"):
        fargate_volumes(container, volumes, image_volumes=[])


def test_a_secret_without_a_test_value_is_refused(prod_task: Any) -> None:
    """Every ``secrets`` entry needs a test value: none may silently go missing."""
    container, volumes = prod_task
    with pytest.raises(UnsupportedDefinitionError, match="API_TOKEN"):
        run_options(
            container,
            volumes,
            image_volumes=[],
            volume_dirs={"/tmp": "/host/tmp"},
            secret_values={"DATABASE_PASSWORD": "x", "REDIS_PASSWORD": "y"},
        )


def test_env_overrides_replace_values(prod_task: Any) -> None:
    """An override (the caller lists it as a substitution) wins over the definition."""
    container, volumes = prod_task
    options = run_options(
        container,
        volumes,
        image_volumes=[],
        volume_dirs={"/tmp": "/host/tmp"},
        secret_values=SECRETS,
        env_overrides={"PORT": "9999"},
    )
    env = dict(item.split("=", 1) for item in _value_after(options, "--env"))
    assert env["PORT"] == "9999"


def test_health_check_command_strips_cmd(prod_task: Any) -> None:
    """["CMD", argv...] runs argv; CMD-SHELL runs through sh -c."""
    container, _ = prod_task
    assert health_check_command(container) == container["healthCheck"]["command"][1:]
    shell = {"healthCheck": {"command": ["CMD-SHELL", "curl -f http://x/ || exit 1"]}}
    assert health_check_command(shell) == ["/bin/sh", "-c", "curl -f http://x/ || exit 1"]
