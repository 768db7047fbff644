# syntax=docker/dockerfile:1
# One image with every geogame binary in /usr/local/bin. By default it runs
# the whole stack in one process; Kubernetes (deploy/k8s) runs one binary
# per Deployment from the same image.
#
#   docker build -t geogame:latest .
#   docker run -p 8080:8080 -v geogame-data:/data geogame:latest

FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
# The release build of every workspace binary (geogame, game-server,
# spawner, matchmaker, analytics, load-test), from the
# committed Cargo.lock. The caches keep crates and objects between builds;
# being mounts, they are not in the image, so the binaries are copied out
# in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --workspace --bins \
 && mkdir /out \
 && find target/release -maxdepth 1 -type f -executable -exec cp {} /out/ \; \
 && for b in geogame game-server spawner matchmaker analytics load-test; do \
      test -x "/out/$b" || { echo "missing binary: $b" >&2; exit 1; }; \
    done

FROM debian:bookworm-slim
# ca-certificates: the load test's https:// and wss:// targets, and TLS to a
# managed Redis or PostgreSQL.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# A fixed numeric uid, so Kubernetes can check runAsNonRoot.
RUN groupadd --system --gid 10001 geogame \
 && useradd --system --uid 10001 --gid geogame --home-dir /data --no-create-home geogame \
 && mkdir /data && chown geogame:geogame /data
COPY --from=builder /out/ /usr/local/bin/
USER 10001:10001
WORKDIR /data
VOLUME /data
EXPOSE 8080
# SIGTERM (docker stop) drains: sockets close with 1001 within 10 s.
CMD ["geogame", "up", "--listen", "0.0.0.0:8080", "--data-dir", "/data"]
