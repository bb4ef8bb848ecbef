# idp-agent service image.
#   docker build -t idp-agent .
#   docker run --read-only --tmpfs /tmp -v idp-data:/data -p 8000:8000 idp-agent
# Two stages: the builder has compilers for any dependency without a wheel; the runtime stage
# receives only the finished virtual environment and the prebuilt runbook index.

FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

# Compilers only live here; nothing from apt is copied into the runtime stage.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# Metadata first so the dependency layer is cached across source-only changes.
COPY pyproject.toml README.md ./
COPY idp ./idp
COPY graph ./graph
COPY tools ./tools
COPY runbooks ./runbooks
COPY server ./server
COPY evals ./evals
RUN pip install --no-cache-dir . \
    && pip uninstall -y pip setuptools wheel

# The runbook index is built once here, so a pod starts without rebuilding it. It is written to
# a read-only seed directory that the entrypoint copies into the writable data volume.
RUN IDP_DATA_DIR=/opt/idp/seed idp runbooks index

FROM python:3.11-slim AS runtime

LABEL org.opencontainers.image.title="idp-agent" \
      org.opencontainers.image.description="AI-native Kubernetes diagnostics for internal developer platforms" \
      org.opencontainers.image.licenses="Apache-2.0"

# A fixed numeric uid/gid so Kubernetes runAsNonRoot can verify it without a passwd lookup.
# The base image's own pip/setuptools are not needed at run time: less to patch, less to abuse.
RUN python -m pip uninstall -y pip setuptools wheel \
    && groupadd --system --gid 10001 idp \
    && useradd --system --uid 10001 --gid idp --no-create-home --shell /usr/sbin/nologin idp \
    && mkdir -p /data \
    && chown idp:idp /data

COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /opt/idp/seed /opt/idp/seed

# With a read-only root filesystem only /data (volume) and /tmp (tmpfs/emptyDir) are writable,
# so HOME, TMPDIR and every cache point there.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    XDG_CACHE_HOME=/tmp/.cache \
    IDP_DATA_DIR=/data \
    IDP_HOST=0.0.0.0 \
    IDP_PORT=8000

VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
EXPOSE 8000

# python's urllib instead of curl: the slim image has no curl and we add nothing.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status == 200 else 1)"]

# Seeds the data volume from the image on first start (an emptyDir or fresh volume is empty),
# never overwriting what is there, then runs the command. Only sh and cp: nothing is added.
ENTRYPOINT ["/bin/sh", "-c", "cp -R -n /opt/idp/seed/. \"${IDP_DATA_DIR:-/data}/\" 2>/dev/null || true; exec \"$@\"", "idp-entrypoint"]
CMD ["idp", "serve", "--host", "0.0.0.0", "--port", "8000"]
