"""Registry: the ECR repository and the service image built into it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker
import pulumi_random as random

from infra.components import type_token

# The repository root, found from this file so the program works from any
# working directory (the language host runs it from inside infra/).
REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "Dockerfile"

# Everything the Dockerfile copies into an image. The tag carries a hash of
# these plus a nonce that is regenerated whenever the hash (or target, or
# platform) differs from what is deployed: ECR tags are immutable and builds
# are not byte-reproducible, so a tree that comes back (rollback, or a compute
# switch and back) must never reuse a tag already pushed. An unchanged tree
# keeps its nonce, hence its tag: no rebuild, no new task definition.
BUILD_INPUT_FILES: tuple[str, ...] = (
    "Dockerfile",
    ".dockerignore",
    "pyproject.toml",
    "uv.lock",
    "lambda_handler.py",
)
BUILD_INPUT_DIRS: tuple[str, ...] = ("service",)
_SKIPPED_PARTS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache"})
_SKIPPED_SUFFIXES = frozenset({".pyc", ".pyo", ".db", ".db-journal", ".sqlite3"})

LIFECYCLE_KEEP_IMAGES = 30
LIFECYCLE_UNTAGGED_DAYS = 7
TAG_HASH_LENGTH = 12
# 4 random bytes = 8 hex characters in the tag.
NONCE_BYTES = 4


def _build_inputs(root: Path) -> Iterator[Path]:
    for file_name in BUILD_INPUT_FILES:
        path = root / file_name
        if path.is_file():
            yield path
    for dir_name in BUILD_INPUT_DIRS:
        for path in sorted((root / dir_name).rglob("*")):
            relative = path.relative_to(root)
            if (
                path.is_file()
                and not _SKIPPED_PARTS.intersection(relative.parts)
                and path.suffix not in _SKIPPED_SUFFIXES
            ):
                yield path


def content_hash(root: Path, target: str, platform: str) -> str:
    """SHA-256 (hex) of the build inputs, the target and the platform."""
    digest = hashlib.sha256()
    # Target and platform change the image without changing a file.
    digest.update(f"target={target}\0platform={platform}\0".encode())
    for path in _build_inputs(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def image_tag(target: str, content: str, nonce_hex: str) -> str:
    """``<target>-<12 hex of the content hash>-<nonce hex>``."""
    return f"{target}-{content[:TAG_HASH_LENGTH]}-{nonce_hex}"


def nonce_keepers(content: str, target: str, platform: str) -> dict[str, str]:
    """What replaces the image nonce when it differs from the deployed value."""
    return {"content": content, "target": target, "platform": platform}


def lifecycle_policy(
    keep_images: int = LIFECYCLE_KEEP_IMAGES, untagged_days: int = LIFECYCLE_UNTAGGED_DAYS
) -> dict[str, Any]:
    """ECR lifecycle policy: drop untagged images, keep the newest ``keep_images``."""
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"Expire untagged images after {untagged_days} days",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": untagged_days,
                },
                "action": {"type": "expire"},
            },
            {
                # ECR requires the tagStatus=any rule to have the highest priority number.
                "rulePriority": 2,
                "description": f"Keep the {keep_images} most recent images",
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": keep_images,
                },
                "action": {"type": "expire"},
            },
        ]
    }


@dataclass(frozen=True)
class RegistryArgs:
    """Inputs of the Registry component."""

    target: str
    platform: str
    force_delete: bool
    context: Path = REPO_ROOT
    dockerfile: Path = DOCKERFILE


class Registry(pulumi.ComponentResource):
    """ECR repository (scan on push, immutable tags, lifecycle) and the built image."""

    repository_url: pulumi.Output[str]
    repository_arn: pulumi.Output[str]
    repository_name: pulumi.Output[str]
    content_hash: str
    image_tag: pulumi.Output[str]
    image_ref: pulumi.Output[str]
    platform: str

    def __init__(
        self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Create the repository, its lifecycle policy and the image."""
        super().__init__(type_token("registry", "Registry"), name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.platform = args.platform

        repository = aws.ecr.Repository(
            f"{name}-repository",
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                scan_on_push=True
            ),
            encryption_configurations=[
                aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="AES256")
            ],
            # dev can be destroyed with its images; prod keeps them.
            force_delete=args.force_delete,
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=repository.name,
            policy=pulumi.Output.json_dumps(lifecycle_policy()),
            opts=child,
        )

        token = aws.ecr.get_authorization_token_output(
            registry_id=repository.registry_id, opts=pulumi.InvokeOptions(parent=self)
        )
        self.content_hash = content_hash(args.context, args.target, args.platform)
        # Logical name fixed (INVARIANT C1, C2); only the keepers vary, and a
        # change of any of them replaces the nonce, hence a tag never pushed before.
        nonce = random.RandomId(
            f"{name}-image-nonce",
            byte_length=NONCE_BYTES,
            keepers=nonce_keepers(self.content_hash, args.target, args.platform),
            opts=child,
        )
        self.image_tag = nonce.hex.apply(
            lambda hex_: image_tag(args.target, self.content_hash, hex_)
        )
        # One logical name for both targets so the URN never depends on the
        # compute shape (INVARIANT C1); the tag carries the target instead.
        image = docker.Image(
            f"{name}-image",
            build=docker.DockerBuildArgs(
                context=str(args.context),
                dockerfile=str(args.dockerfile),
                platform=args.platform,
                target=args.target,
            ),
            image_name=pulumi.Output.concat(repository.repository_url, ":", self.image_tag),
            registry=docker.RegistryArgs(
                server=repository.repository_url,
                username=token.user_name,
                password=pulumi.Output.secret(token.password),
            ),
            opts=child,
        )

        self.repository_url = repository.repository_url
        self.repository_arn = repository.arn
        self.repository_name = repository.name
        self.image_ref = pulumi.Output.all(repository.repository_url, image.repo_digest).apply(
            lambda values: _pinned_reference(values[0], values[1])
        )
        self.register_outputs(
            {
                "repositoryUrl": self.repository_url,
                "imageRef": self.image_ref,
                "platform": self.platform,
            }
        )


def _pinned_reference(repository_url: str, repo_digest: str) -> str:
    """``<repository_url>@sha256:…`` from the pushed image's repo digest."""
    _, _, digest = repo_digest.rpartition("@")
    if not digest.startswith("sha256:") or len(digest) != len("sha256:") + 64:
        raise ValueError(f"image digest {repo_digest!r} is not <name>@sha256:<64 hex>")
    return f"{repository_url}@{digest}"
