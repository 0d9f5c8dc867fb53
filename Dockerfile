# syntax=docker/dockerfile:1
# Linted by hadolint in the suite (tests/test_container.py); the start-up it runs is proven without Docker in
# tests/test_operations.py, which runs this file's CMD on a fresh PostgreSQL database.

# Build stage: the project and its dependencies installed into a virtualenv (any compiling happens here).
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
# The server only: the file client (client/, its `client` extra: gql, openpyxl, ...) runs on office PCs, not here.
COPY api ./api
COPY db ./db
RUN pip install --no-cache-dir .

# Runtime stage: the same slim base with the virtualenv only (no compiler, no sources), run by an unprivileged user.
FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 rentan \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin rentan
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RENTAN_ENV=production \
    PROMETHEUS_MULTIPROC_DIR=/tmp/rentan-metrics
USER 10001:10001
EXPOSE 8000
# Alive = the process answers; readiness (database reachable, schema at head) is /readyz, for the load balancer.
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
# Migrate to head, then serve (`rentan start`). RENTAN_DATABASE_URL and RENTAN_JWKS_URL (with the issuer and
# audience) come from the environment: see compose.yaml and the README's Operations section.
CMD ["rentan", "start", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
