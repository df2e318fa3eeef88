# Multi-stage build: compile in the Rust image, run from a slim Debian as a non-root user.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY benches ./benches
RUN cargo build --release --locked --bin custscore

FROM debian:bookworm-slim
RUN useradd --system --create-home --home-dir /app custscore
WORKDIR /app
COPY --from=build /src/target/release/custscore /usr/local/bin/custscore
COPY training-data ./training-data
RUN mkdir -p /app/models && chown -R custscore /app/models
USER custscore
VOLUME ["/app/models"]
ENV CUSTSCORE_MODELS=/app/models
ENTRYPOINT ["custscore"]
CMD ["train"]
