"""Registry: ECR repository hygiene (B5) and the image build (A10, C1, digest pinning)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from infra.components.registry import (
    BUILD_INPUT_DIRS,
    BUILD_INPUT_FILES,
    content_hash,
    image_tag,
    lifecycle_policy,
)
from tests.infra.checks import as_document
from tests.infra.conftest import BuildStack
from tests.infra.harness import REPO_ROOT, StackResult

REPOSITORY = "aws:ecr/repository:Repository"
IMAGE = "docker:index/image:Image"
NONCE = "random:index/randomId:RandomId"
SELECTION_KEYS = {
    "tagStatus",
    "tagPrefixList",
    "tagPatternList",
    "countType",
    "countUnit",
    "countNumber",
}


def assert_lifecycle_policy(document: object) -> None:
    """Structural validation of an ECR lifecycle policy document."""
    doc = as_document(document)
    assert set(doc) == {"rules"}
    rules = doc["rules"]
    assert rules
    priorities = [rule["rulePriority"] for rule in rules]
    assert all(isinstance(p, int) and not isinstance(p, bool) and p >= 1 for p in priorities)
    assert len(set(priorities)) == len(priorities)
    for rule in rules:
        assert set(rule) <= {"rulePriority", "description", "selection", "action"}
        selection = rule["selection"]
        assert set(selection) <= SELECTION_KEYS
        assert selection["tagStatus"] in ("tagged", "untagged", "any")
        if selection["tagStatus"] == "tagged":
            assert selection.get("tagPrefixList") or selection.get("tagPatternList")
        assert selection["countType"] in ("imageCountMoreThan", "sinceImagePushed")
        assert isinstance(selection["countNumber"], int)
        assert selection["countNumber"] >= 1
        if selection["countType"] == "sinceImagePushed":
            assert selection["countUnit"] == "days"
        else:
            assert "countUnit" not in selection
        assert rule["action"] == {"type": "expire"}
    # ECR: a tagStatus=any rule must carry the highest rulePriority.
    any_rules = [r["rulePriority"] for r in rules if r["selection"]["tagStatus"] == "any"]
    if any_rules:
        assert max(any_rules) == max(priorities)


def test_b5_repository_scans_on_push_with_immutable_tags(variant: StackResult) -> None:
    """B5: scan on push, immutable tags, encrypted, and a valid lifecycle policy attached."""
    repository = variant.one(REPOSITORY)
    assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository.inputs["encryptionConfigurations"] == [{"encryptionType": "AES256"}]
    policy = variant.one("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    assert policy.inputs["repository"] == repository.outputs["name"]
    assert_lifecycle_policy(policy.inputs["policy"])


def test_b5_lifecycle_validator_catches_mistakes() -> None:
    """The structural check itself rejects duplicate priorities and a misplaced 'any' rule."""
    good = lifecycle_policy()
    assert_lifecycle_policy(good)
    duplicate = {"rules": [dict(rule, rulePriority=1) for rule in good["rules"]]}
    with pytest.raises(AssertionError):
        assert_lifecycle_policy(duplicate)
    reordered = {
        "rules": [dict(good["rules"][1], rulePriority=1), dict(good["rules"][0], rulePriority=2)]
    }
    with pytest.raises(AssertionError):
        assert_lifecycle_policy(reordered)


def test_prod_repository_keeps_its_images_on_destroy(build_stack: BuildStack) -> None:
    """dev may be destroyed with its images; prod may not."""
    assert build_stack("dev").one(REPOSITORY).inputs["forceDelete"] is True
    assert build_stack("prod").one(REPOSITORY).inputs["forceDelete"] is False


@pytest.mark.parametrize(("compute", "target"), [("fargate", "service"), ("lambda", "lambda")])
def test_image_builds_the_shape_target_from_the_repository_root(
    build_stack: BuildStack, compute: str, target: str
) -> None:
    """One image, the shape's Dockerfile target, from the staged context, built on preview.

    Defect 1: context and Dockerfile are relative paths (the harness runs from
    the repository root here; test_lifecycle.py runs it from infra/ too), never
    absolute ones that differ per checkout. Defect 9: previews build the image.
    """
    stack = build_stack("dev", compute)
    image = stack.one(IMAGE)
    assert image.name == "registry-image"  # C1: the same URN for both shapes
    build = image.inputs["build"]
    assert build["target"] == target
    assert build["platform"] == "linux/amd64"
    assert build["context"] == "build/image-context"
    assert build["dockerfile"] == "build/image-context/Dockerfile"
    assert not Path(build["context"]).is_absolute()
    assert (REPO_ROOT / build["dockerfile"]).read_bytes() == (REPO_ROOT / "Dockerfile").read_bytes()
    assert image.inputs["buildOnPreview"] is True
    repository_url = stack.one(REPOSITORY).outputs["repositoryUrl"]
    assert re.fullmatch(
        rf"{re.escape(repository_url)}:{target}-[0-9a-f]{{12}}-[0-9a-f]{{8}}",
        image.inputs["imageName"],
    )


@pytest.mark.parametrize(("compute", "target"), [("fargate", "service"), ("lambda", "lambda")])
def test_image_tag_embeds_a_nonce_kept_by_the_build_inputs(
    build_stack: BuildStack, compute: str, target: str
) -> None:
    """Immutable tags never collide: the nonce's keepers are the content hash, the
    target and the platform (any difference from the deployed state replaces it,
    including a return to an older tree), and the tag ends with the nonce."""
    stack = build_stack("dev", compute)
    nonce = stack.one(NONCE)
    assert nonce.name == "registry-image-nonce"  # C1/C2: not derived from config
    assert stack.parent_of(nonce) == stack.one("fastapi-on-aws:registry:Registry")
    assert nonce.inputs["byteLength"] == 4
    content = content_hash(REPO_ROOT, target, "linux/amd64")
    assert nonce.inputs["keepers"] == {
        "content": content,
        "target": target,
        "platform": "linux/amd64",
    }
    tag = stack.one(IMAGE).inputs["imageName"].rsplit(":", 1)[1]
    assert tag == f"{target}-{content[:12]}-{nonce.outputs['hex']}"
    assert re.fullmatch(r"[0-9a-f]{8}", nonce.outputs["hex"])


def test_image_tag_format() -> None:
    """``<target>-<12 hex of the content>-<nonce>``."""
    assert image_tag("lambda", "ab" * 32, "0011aabb") == "lambda-abababababab-0011aabb"


def test_image_pushes_with_ecr_credentials_kept_secret(variant: StackResult) -> None:
    """Registry credentials come from get_authorization_token and stay secret."""
    image = variant.one(IMAGE)
    registry = image.inputs["registry"]
    assert registry["username"] == "AWS"
    assert registry["password"] == "mock-ecr-password"
    assert "registry" in image.secret_inputs
    assert registry["server"] == variant.one(REPOSITORY).outputs["repositoryUrl"]


def test_a10_image_platform_follows_cpu_architecture(build_stack: BuildStack) -> None:
    """A10: cpuArchitecture arm64 builds a linux/arm64 image (and a different tag)."""
    arm = build_stack("dev", cpuArchitecture="arm64").one(IMAGE)
    x86 = build_stack("dev").one(IMAGE)
    assert arm.inputs["build"]["platform"] == "linux/arm64"
    assert arm.inputs["imageName"] != x86.inputs["imageName"]


def test_image_ref_is_pinned_by_digest(variant: StackResult) -> None:
    """The exported reference is <repository url>@sha256:<64 hex> of the pushed image."""
    repository_url = variant.one(REPOSITORY).outputs["repositoryUrl"]
    digest = variant.one(IMAGE).outputs["repoDigest"].split("@")[1]
    assert variant.outputs["imageRef"] == f"{repository_url}@{digest}"
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)


# ------------------------------------------------------------ tag (pure function)


@pytest.fixture
def build_tree(tmp_path: Path) -> Path:
    """A copy of the build inputs to modify."""
    for name in BUILD_INPUT_FILES:
        if (REPO_ROOT / name).is_file():
            shutil.copy2(REPO_ROOT / name, tmp_path / name)
    for name in BUILD_INPUT_DIRS:
        shutil.copytree(
            REPO_ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    return tmp_path


def test_tag_is_stable_for_unchanged_inputs(build_tree: Path) -> None:
    """Same tree, target and platform: same hash, so the same nonce (no rebuild)."""
    digest = content_hash(build_tree, "service", "linux/amd64")
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert content_hash(build_tree, "service", "linux/amd64") == digest
    assert content_hash(build_tree, "service", "linux/amd64") == content_hash(
        REPO_ROOT, "service", "linux/amd64"
    )


def test_tag_changes_with_code_lock_target_and_platform(build_tree: Path) -> None:
    """A changed input, target or platform gives a new hash (hence a new nonce)."""
    base = content_hash(build_tree, "service", "linux/amd64")
    assert content_hash(build_tree, "lambda", "linux/amd64") != base
    assert content_hash(build_tree, "service", "linux/arm64") != base
    (build_tree / "service" / "new_module.py").write_text("VALUE = 1\n")
    changed_code = content_hash(build_tree, "service", "linux/amd64")
    assert changed_code != base
    with (build_tree / "uv.lock").open("a") as lock:
        lock.write("\n# changed\n")
    assert content_hash(build_tree, "service", "linux/amd64") != changed_code


def test_tag_ignores_caches(build_tree: Path) -> None:
    """Bytecode caches and local databases are not build inputs."""
    base = content_hash(build_tree, "service", "linux/amd64")
    cache = build_tree / "service" / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "main.cpython-312.pyc").write_bytes(b"\0")
    (build_tree / "service" / "app.db").write_bytes(b"\0")
    assert content_hash(build_tree, "service", "linux/amd64") == base
