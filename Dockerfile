# syntax=docker/dockerfile:1.7
# odds-pipeline image: one image for `odds scheduler start` (a long-running container) and for the ECS
# work pool (the ECS worker starts it with `prefect flow-run execute` for each run).
#
#   docker build -t odds-pipeline:$(git rev-parse --short HEAD) .
#
# No secret is baked in: ODDS_API_KEY and DATABASE_URL come from the environment at run time (ECS task
# definition secrets) or from Prefect Secret blocks (the pull step in prefect.yaml). See docs/DEPLOYMENT.md.

FROM python:3.11-slim-bookworm

# uv, pinned to the version that wrote uv.lock.
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /bin/

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    DO_NOT_TRACK=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=120 \
    PREFECT_HOME=/home/odds/.prefect \
    PREFECT_SERVER_UI_STATIC_DIRECTORY=/home/odds/.prefect/ui \
    ODDS_HOME=/home/odds/.odds-pipeline

RUN groupadd --system --gid 10001 odds \
    && useradd --system --uid 10001 --gid odds --create-home --home-dir /home/odds --shell /usr/sbin/nologin odds

WORKDIR /opt/app

# 1. Dependencies only, from the lock file: this layer is rebuilt only when uv.lock or pyproject.toml change.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-install-project --no-dev

# 2. The project itself (code, prefect.yaml, migrations), installed into the same environment.
COPY . /opt/app
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable \
    && mkdir -p /home/odds/.prefect/ui /home/odds/.odds-pipeline \
    && chown -R odds:odds /home/odds

USER odds

# `prefect server start` inside this image (optional) listens here.
EXPOSE 4200

CMD ["odds", "scheduler", "start", "--skip-manual"]
