# One image for every service (and the one-shot `kafka-setup` job); docker-compose.yml picks the command.
#   docker build -t support-billing .      then e.g.  docker run support-billing billing-service
FROM python:3.11-slim

ARG UV_VERSION=0.13.9
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PATH=/app/.venv/bin:$PATH

# Printable bills (WeasyPrint): Pango, HarfBuzz and a font from Debian.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
        fonts-dejavu-core fontconfig \
    && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir "uv==${UV_VERSION}"

WORKDIR /app

# Dependencies first (cached while only source changes): the lock file and every member's pyproject.toml.
COPY pyproject.toml uv.lock ./
COPY contracts-schema/pyproject.toml contracts-schema/
COPY libs/servicekit/pyproject.toml libs/servicekit/
COPY services/contracts/pyproject.toml services/contracts/
COPY services/billing/pyproject.toml services/billing/
COPY services/timetracking/pyproject.toml services/timetracking/
COPY tools/supportctl/pyproject.toml tools/supportctl/
RUN uv sync --locked --no-dev --all-packages --no-install-workspace --no-cache

# Then the workspace itself (editable installs: each service finds its Alembic migrations next to its source).
COPY . .
RUN uv sync --locked --no-dev --all-packages --no-cache \
    && useradd --system --create-home --home-dir /home/app app \
    && mkdir -p /app/var && chown app: /app/var

USER app
EXPOSE 8001 8002 8003
CMD ["python", "-c", "print('choose a command: contracts-service, billing-service, timetracking-service, supportctl, python -m servicekit.admin create-topics|users|acls')"]
