# syntax=docker/dockerfile:1
#
# One image recipe, two targets built from the same locked environment:
#   --target service : uvicorn via `python -m service serve` on port 8000 (ECS Fargate)
#   --target lambda  : the same code and venv behind the Lambda runtime interface client
# Only the runtime dependencies from uv.lock are installed (no dev or infra
# groups, no project install: the project is `package = false`). No secret is
# ever copied in or passed as a build argument: the service reads them at run
# time from its environment or SSM.

# Pinned tool and base images: no floating tags.
FROM ghcr.io/astral-sh/uv:0.13.9 AS uv
FROM python:3.12.12-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/app/.venv \
    PATH=/app/.venv/bin:$PATH
WORKDIR /app

# ---------------------------------------------------------------- build stages
FROM base AS deps
COPY --from=uv /uv /usr/local/bin/uv
# Compile bytecode at build time (the root filesystem is read-only at run time);
# copy instead of hard-linking from the cache mount; use the image's Python only.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-default-groups --no-install-project

FROM deps AS lambda-deps
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-default-groups --group lambda --no-install-project

# -------------------------------------------------------------- runtime stages
FROM base AS runtime
# A fixed, unprivileged uid/gid that owns nothing in the image.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin app
ENV HOST=0.0.0.0 PORT=8000
EXPOSE 8000

FROM runtime AS service
COPY --from=deps /app/.venv /app/.venv
COPY service ./service
# Byte-compile the app at build time: the root filesystem is read-only at run
# time, so otherwise every cold start would compile it again. /tmp stays 1777.
RUN python -m compileall -q service && chmod 1777 /tmp
# The task mounts task storage at /tmp (the root filesystem is read-only). On
# Fargate (platform 1.4) such a bind mount is root:root 0755, which user 10001
# cannot write, UNLESS the image declares a VOLUME at exactly that path: then
# it starts as a copy of the image's /tmp (1777). tests/image/ checks this.
VOLUME ["/tmp"]
USER 10001:10001
# For `docker run`; ECS uses the task definition's container health check and
# the ALB its target-group check, both against the same liveness route.
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
CMD ["python", "-m", "service", "serve"]

FROM runtime AS lambda
COPY --from=lambda-deps /app/.venv /app/.venv
COPY service ./service
COPY lambda_handler.py ./
RUN python -m compileall -q service lambda_handler.py
# Where the runtime interface client looks for the handler module.
ENV LAMBDA_TASK_ROOT=/app
USER 10001:10001
ENTRYPOINT ["python", "-m", "awslambdaric"]
CMD ["lambda_handler.handler"]
