#!/usr/bin/env bash
# Prepare the image tests (tests/image/): the container engine, free disk, and
# the Dockerfile's two external base images.
#
#   IMAGE_ENGINE=podman (default): podman with runc, installed from Debian when
#     missing. No registry is reachable on the machines this runs on, so each
#     base image that is not already in podman's store is replaced by a
#     STAND-IN with the same name: a debootstrapped Debian bookworm with its
#     python3 for python:<tag>-slim-bookworm, and an image holding /uv (from the
#     uv wheel on PyPI, same version) for ghcr.io/astral-sh/uv:<tag>. Stand-ins
#     stay in podman's own store, so the next run (even from a fresh clone)
#     skips them. docs/image-tests.md lists how a stand-in differs.
#   IMAGE_ENGINE=docker: docker, which pulls the real base images (CI).
#
# The tags are read from the Dockerfile's FROM lines, never repeated here.
set -euo pipefail
cd "$(dirname "$0")/../.."

ENGINE="${IMAGE_ENGINE:-podman}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-}"
# Images plus stand-ins plus build layers take about 2 GB; ask for some margin.
NEED_MB="${IMAGE_TESTS_NEED_MB:-3072}"

fail() { printf '\nprepare.sh: %s\n' "$*" >&2; exit 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# step NAME: print the step; done_step: print how long it took.
step() { STEP_NAME="$1"; STEP_START=$(now_ms); printf '==> %s\n' "$STEP_NAME"; }
done_step() {
  local ms=$(( $(now_ms) - STEP_START ))
  printf '    %s: %d.%d s\n' "$STEP_NAME" $(( ms / 1000 )) $(( ms % 1000 / 100 ))
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

case "$ENGINE" in
  podman) E=(podman --runtime runc) ;;
  docker) E=(docker) ;;
  *) fail "IMAGE_ENGINE must be podman or docker, not '$ENGINE'" ;;
esac

# ------------------------------------------------------------------ engine
step "container engine: $ENGINE"
if [ "$ENGINE" = podman ]; then
  missing=()
  command -v podman >/dev/null || missing+=(podman)
  command -v runc >/dev/null || missing+=(runc)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing from Debian: ${missing[*]}"
    command -v apt-get >/dev/null || fail "cannot install ${missing[*]}: no apt-get (install them by hand)"
    as_root apt-get update -qq || fail "apt-get update failed"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
      || fail "apt-get install ${missing[*]} failed"
  fi
else
  command -v docker >/dev/null || fail "docker is not installed"
fi
"${E[@]}" info >/dev/null 2>&1 || fail "'${E[*]} info' fails: the engine cannot run here ($("${E[@]}" info 2>&1 | tail -1))"
"${E[@]}" --version
done_step

# -------------------------------------------------------------------- disk
step "free disk"
if [ "$ENGINE" = podman ]; then
  store=$("${E[@]}" info --format '{{.Store.GraphRoot}}')
else
  store=$(docker info --format '{{.DockerRootDir}}')
fi
probe="$store"
while [ ! -d "$probe" ]; do probe=$(dirname "$probe"); done
for dir in "$probe" "${TMPDIR:-/var/tmp}"; do
  avail_mb=$(( $(df --output=avail -k "$dir" | tail -1) / 1024 ))
  echo "$dir: ${avail_mb} MB free"
  [ "$avail_mb" -ge "$NEED_MB" ] || fail "only ${avail_mb} MB free under $dir; the image tests need about ${NEED_MB} MB (images, stand-ins and build layers, about 2 GB). Free some space (e.g. '${E[*]} system prune') and retry."
done
done_step

# ------------------------------------------------------------- base images
# External bases = FROM images that are not earlier stage names.
mapfile -t BASES < <(awk '
  toupper($1) == "FROM" {
    image = ""; for (i = 2; i <= NF; i++) if ($i !~ /^--/) { image = $i; break }
    if (!(image in stages)) print image
    for (i = 2; i < NF; i++) if (toupper($i) == "AS") stages[$(i + 1)] = 1
  }' Dockerfile)
[ "${#BASES[@]}" -gt 0 ] || fail "no external FROM image found in the Dockerfile"

image_exists() {
  if [ "$ENGINE" = podman ]; then "${E[@]}" image exists "$1"; else docker image inspect "$1" >/dev/null 2>&1; fi
}
# podman stores a short name such as python:3.12 under docker.io/library/.
qualified() {
  case "$1" in
    */*.*/*|*.*/*|localhost/*) echo "$1" ;;
    */*) echo "docker.io/$1" ;;
    *) echo "docker.io/library/$1" ;;
  esac
}

WORK=""
cleanup() { if [ -n "$WORK" ]; then as_root rm -rf "$WORK"; fi; }
trap cleanup EXIT
workdir() { [ -n "$WORK" ] || WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/image-standins.XXXXXX"); }

# The CA bundle this machine's pip uses (it may include a proxy's CA), so that
# uv inside the build reaches PyPI exactly as pip does here.
ca_bundle() {
  local cert
  cert=$(python3 -m pip config get global.cert 2>/dev/null || true)
  [ -n "$cert" ] || cert="${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}"
  [ -f "$cert" ] || fail "CA bundle $cert (from pip's config) not found"
  echo "$cert"
}

# Index settings from pip's config that uv inside a build can use: only
# http(s) URLs; file:// indexes live on this host and do not exist in a build.
uv_index_changes() {
  local url extra
  url=$(python3 -m pip config get global.index-url 2>/dev/null || true)
  case "$url" in
    http://*|https://*) printf '%s\n' "--change" "ENV UV_DEFAULT_INDEX=$url" ;;
    "") ;;
    *) echo "    pip index-url $url is not http(s): not passed to the build" >&2 ;;
  esac
  for extra in $(python3 -m pip config get global.extra-index-url 2>/dev/null || true); do
    case "$extra" in
      http://*|https://*) printf '%s\n' "--change" "ENV UV_INDEX=$extra" ;;
      *) echo "    pip extra-index-url $extra is not http(s): not passed to the build" >&2 ;;
    esac
  done
}

debian_mirror() {
  if [ -n "$DEBIAN_MIRROR" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local uri
  uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
  [ -n "$uri" ] || uri=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
  [ -n "$uri" ] || fail "no Debian mirror found in /etc/apt/sources.list.d/ (set DEBIAN_MIRROR)"
  echo "$uri"
}

standin_python() { # image
  local image="$1" tag suite rootfs cert
  tag="${image##*:}"
  suite="${tag##*-}"   # 3.12.12-slim-bookworm -> bookworm
  workdir
  rootfs="$WORK/python-rootfs"
  cert=$(ca_bundle)
  step "stand-in $image: debootstrap Debian $suite (python3) from $(debian_mirror)"
  # What the Dockerfile's stages use: python (uv's venv, compileall, the
  # health check), groupadd/useradd (passwd); plus what the real slim image
  # carries that the service may touch: CA certificates, netbase, tzdata.
  as_root debootstrap --variant=minbase --include=python3,passwd,ca-certificates,netbase,tzdata \
    "$suite" "$rootfs" "$(debian_mirror)" > "$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; fail "debootstrap failed (log above)"; }
  done_step
  step "stand-in $image: import"
  # The real image's interpreter is /usr/local/bin/python (and python3).
  as_root ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python"
  as_root ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python3"
  as_root install -D -m 0644 "$cert" "$rootfs/usr/local/share/standin/ca-certificates.crt"
  as_root rm -rf "$rootfs/var/cache/apt/archives"/*.deb "$rootfs/var/lib/apt/lists"/*
  mapfile -t index_changes < <(uv_index_changes)
  as_root tar -C "$rootfs" -c . | "${E[@]}" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV SSL_CERT_FILE=/usr/local/share/standin/ca-certificates.crt' \
    --change 'ENV UV_SYSTEM_CERTS=true' \
    --change 'ENV UV_NATIVE_TLS=true' \
    "${index_changes[@]}" \
    --change 'LABEL org.fastapi-on-aws.standin=true' \
    --change 'CMD ["python3"]' \
    --message "stand-in for $image (Debian $suite python3; see docs/image-tests.md)" \
    - "$(qualified "$image")" >/dev/null
  done_step
}

standin_uv() { # image
  local image="$1" version
  version="${image##*:}"
  workdir
  step "stand-in $image: uv $version from its PyPI wheel"
  mkdir -p "$WORK/uv-wheel" "$WORK/uv-root"
  # The musllinux wheel: its binary is static, like the one the real image
  # (FROM scratch) ships, so it runs in an image with no libc at all.
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    --platform "musllinux_1_1_$(uname -m)" --dest "$WORK/uv-wheel" "uv==$version" \
    || fail "pip download uv==$version failed"
  python3 - "$WORK/uv-wheel" "$WORK/uv-root" <<'PY'
import sys, zipfile, pathlib, stat
wheel = next(pathlib.Path(sys.argv[1]).glob("uv-*.whl"))
out = pathlib.Path(sys.argv[2])
with zipfile.ZipFile(wheel) as archive:
    for member in archive.namelist():
        name = member.rsplit("/", 1)[-1]
        if "/scripts/" in member and name in ("uv", "uvx"):
            (out / name).write_bytes(archive.read(member))
            (out / name).chmod(0o755)
assert (out / "uv").exists(), f"no uv binary in {wheel}"
PY
  tar -C "$WORK/uv-root" --owner=0 --group=0 -c uv uvx | "${E[@]}" import \
    --change 'ENTRYPOINT ["/uv"]' \
    --change 'LABEL org.fastapi-on-aws.standin=true' \
    --message "stand-in for $image (the uv $version wheel's binaries)" \
    - "$(qualified "$image")" >/dev/null
  "${E[@]}" run --rm "${BASE_OPTS[@]}" "$(qualified "$image")" --version
  done_step
}

BASE_OPTS=()
[ "$ENGINE" = podman ] && BASE_OPTS=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)

for image in "${BASES[@]}"; do
  if image_exists "$image" || image_exists "$(qualified "$image")"; then
    echo "==> base image $image: present, kept"
    continue
  fi
  if [ "$ENGINE" = docker ]; then
    # CI: the real image, never a stand-in.
    step "pull $image"
    docker pull --quiet "$image" || fail "docker pull $image failed"
    done_step
    continue
  fi
  case "$image" in
    python:*-slim-bookworm|docker.io/library/python:*-slim-bookworm) standin_python "$image" ;;
    ghcr.io/astral-sh/uv:*) standin_uv "$image" ;;
    *) fail "no registry is reachable and there is no stand-in recipe for base image $image" ;;
  esac
done
echo "==> base images ready: ${BASES[*]}"
