# syntax=docker/dockerfile:1
# Tenantry's images, one target each, all on Debian 12:
#   api      tenantd, the FastCGI server, on 127.0.0.1:9000 inside the task
#   web      nginx with the UI bundle, its configuration rendered at start
#   migrate  tenantctl migrate, run once per deployment of the database
# Build one with: docker build --target api --tag tenantry-api .
# No secret goes into any image: the database URL and the admin token come
# from the environment (ECS injects them from AWS Secrets Manager).

# tenantd, tenantctl and the SQL they apply, installed into /staging by the
# script the tests also run.  The package list is script/packages' build list.
FROM debian:bookworm-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        build-essential autoconf automake libtool pkg-config \
        libfcgi-dev libpq-dev libjson-c-dev libcurl4-openssl-dev libsodium-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY configure.ac Makefile.am ./
COPY m4/ m4/
COPY app/ app/
COPY db/ db/
COPY docker/build-api docker/
RUN docker/build-api /src /build /staging

# The web tier's tarball, made by the script the UI pipeline runs.
FROM debian:bookworm-slim AS bundle
WORKDIR /src
COPY nginx/ nginx/
COPY docker/ui-bundle docker/
RUN docker/ui-bundle /bundle/tenantry-ui.tar.gz \
    && mkdir -p /bundle/tree \
    && tar -xzf /bundle/tenantry-ui.tar.gz -C /bundle/tree

# What tenantd and tenantctl need at run time, and the service user.
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpq5 libjson-c5 libcurl4 libsodium23 libfcgi0ldbl libfcgi-bin \
        ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --user-group --uid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin tenantry
COPY --from=build /staging/ /
ENV TENANTRY_DB_DIR=/usr/share/tenantry/db

# tenantctl migrate: the control plane, then every tenant schema.  psql and
# infra/bootstrap-database are there for the first deployment, which makes
# the app's login role and database (infra/README.md).
FROM runtime AS migrate
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client-15 \
    && rm -rf /var/lib/apt/lists/*
COPY infra/bootstrap-database /usr/local/bin/tenantry-bootstrap-database
USER tenantry
ENTRYPOINT ["/usr/bin/tenantctl"]
CMD ["migrate"]

# tenantd on loopback TCP: the web container of the same task reaches it
# there, nothing else can.
FROM runtime AS api
COPY docker/healthcheck-api /usr/local/bin/tenantry-healthcheck-api
ENV TENANTD_LISTEN=127.0.0.1:9000
USER tenantry
HEALTHCHECK --interval=15s --timeout=6s --retries=3 \
    CMD ["/usr/local/bin/tenantry-healthcheck-api"]
STOPSIGNAL SIGTERM
CMD ["/usr/sbin/tenantd"]

# nginx as the service user on port 8080, configured at start from the
# environment (TENANTRY_DOMAIN and the rest; see docker/web-entrypoint).
FROM debian:bookworm-slim AS web
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx-light curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --user-group --uid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin tenantry \
    && mkdir -p /var/lib/tenantry \
    && chown tenantry:tenantry /var/lib/tenantry
COPY --from=bundle /bundle/tree/nginx/ /usr/share/tenantry/nginx/
COPY docker/web-entrypoint /usr/local/bin/tenantry-web-entrypoint
COPY docker/healthcheck-web /usr/local/bin/tenantry-healthcheck-web
ENV TENANTRY_STATE=/var/lib/tenantry \
    TENANTRY_RENDER=/usr/share/tenantry/nginx/render \
    TENANTRY_PORT=8080 \
    TENANTRY_LISTEN_ADDR=0.0.0.0 \
    TENANTRY_FASTCGI=127.0.0.1:9000
USER tenantry
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=6s --retries=3 \
    CMD ["/usr/local/bin/tenantry-healthcheck-web"]
STOPSIGNAL SIGQUIT
ENTRYPOINT ["/usr/local/bin/tenantry-web-entrypoint"]
