# Order Automation for Saleor: a slim, non-root image that migrates its database, then serves.
FROM python:3.12-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    APP_ENV=production \
    DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=3000

RUN groupadd --system app && useradd --system --gid app --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /app /data && chown app:app /data

WORKDIR /app
# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
COPY saleor_app/__init__.py saleor_app/__init__.py
RUN pip install --no-compile . && pip uninstall -y saleor-order-automation

# The app reads graphql/ and manifest/ next to the package, so the tree is kept as it is in the repository.
COPY saleor_app ./saleor_app
COPY graphql ./graphql
COPY manifest ./manifest
RUN pip install --no-deps -e .

USER app
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/health', timeout=2)"
# `serve` applies migrations first; several replicas may start at once (`migrate` holds an advisory lock on PostgreSQL, so they take turns).
# The same image runs `saleor-automation worker` and `saleor-automation dispatch` (docker-compose.yml).
CMD ["saleor-automation", "serve"]
