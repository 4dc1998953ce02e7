"""Registry: the ECR repository and the service image built into it."""

from __future__ import annotations

import hashlib
import os
import shutil
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
# Where the program stages the build context (git-ignored, like /build/).
# pulumi-docker diffs every input, and its `contextDigest` hashes each file's
# mode next to its content (provider/provider.go, hashPath): a checkout made
# under another umask would rebuild the same tag, which the immutable ECR
# repository refuses, and COPY would carry owner-only modes into the image,
# where the app user cannot read them. The staged copy holds exactly the
# build inputs, with modes fixed to 0644 (0755 when executable).
STAGED_CONTEXT = REPO_ROOT / "build" / "image-context"
_FILE_MODE = 0o644
_EXECUTABLE_MODE = 0o755

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


def stage_build_context(root: Path, destination: Path) -> Path:
    """Copy the build inputs of ``root`` to ``destination`` with fixed modes; return it.

    Nothing is rewritten when the staged copy already matches (same content
    hash); otherwise it is built next to the destination and swapped in, so a
    half-written context is never left behind.
    """
    marker = destination.with_name(destination.name + ".sha256")
    expected = content_hash(root, "context", "any")
    if destination.is_dir() and marker.is_file() and marker.read_text() == expected:
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = destination.with_name(f"{destination.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    for path in _build_inputs(root):
        target = staging / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
        executable = path.stat().st_mode & 0o111
        target.chmod(_EXECUTABLE_MODE if executable else _FILE_MODE)
    retired = destination.with_name(f"{destination.name}.old-{os.getpid()}")
    if destination.exists():
        destination.rename(retired)
    staging.rename(destination)
    shutil.rmtree(retired, ignore_errors=True)
    marker.write_text(expected)
    return destination


def relative_to_cwd(path: Path) -> str:
    """``path`` relative to the working directory, in POSIX form.

    The engine starts the provider in the program's directory (``infra/`` for
    ``main: infra/``), so a relative path is the same string for any checkout.
    """
    return Path(os.path.relpath(path, Path.cwd())).as_posix()


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
    # The checkout the image is built from; its inputs are staged under `staged`.
    source: Path = REPO_ROOT
    staged: Path = STAGED_CONTEXT
    # Pull-request previews build the image too, so a broken Dockerfile fails
    # the preview rather than the first `pulumi up` on main (nothing is pushed).
    build_on_preview: bool = True


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
        self.content_hash = content_hash(args.source, args.target, args.platform)
        context = stage_build_context(args.source, args.staged)
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
                # Relative to the program's directory: the same for any checkout.
                context=relative_to_cwd(context),
                dockerfile=relative_to_cwd(context / "Dockerfile"),
                platform=args.platform,
                target=args.target,
            ),
            build_on_preview=args.build_on_preview,
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
