# Multi-stage build: compile in the Rust image, run from a slim Debian as a non-root user.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY benches ./benches
RUN cargo build --profile production --locked --bin custscore

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*
# A fixed uid/gid, so Kubernetes' runAsUser (deploy/kubernetes) names this user.
RUN groupadd --system --gid 10001 custscore \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /app custscore
WORKDIR /app
COPY --from=build /src/target/production/custscore /usr/local/bin/custscore
COPY training-data ./training-data
RUN mkdir -p /app/models && chown -R custscore /app/models
USER custscore
VOLUME ["/app/models"]
# Listening beyond loopback needs API keys: mount a file with one key per line here.
ENV CUSTSCORE_MODELS=/app/models \
    CUSTSCORE_ADDR=0.0.0.0:8080 \
    CUSTSCORE_API_KEYS_FILE=/run/secrets/custscore_api_keys
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s \
    CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["custscore"]
CMD ["serve"]
