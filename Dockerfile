# syntax=docker/dockerfile:1
# Build stage: wheels for the project and its dependencies (compilers stay here).
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml README.md ./
COPY api ./api
COPY db ./db
RUN pip install --no-cache-dir --upgrade pip && pip install --no-cache-dir .

# Runtime stage: the virtualenv only, run by an unprivileged user.
FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /app rentan
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    RENTAN_ENV=production
USER rentan
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
# Migrate, then serve. RENTAN_DATABASE_URL and RENTAN_JWKS_URL (plus issuer/audience) come from the environment.
CMD ["sh", "-c", "rentan db upgrade && rentan serve --host 0.0.0.0 --port 8000"]
