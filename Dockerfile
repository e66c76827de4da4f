# The origin (origin/, axum + sqlx) as a small non-root image. Untested here: no container
# registry is reachable from the machines that build this project, so every step below
# calls scripts/origin-release.sh, which the test command runs as it is
# (worker-tests/origin-release.test.mjs). See docs/deploy.md.
#
#   docker build -t launch-edge-origin .
#   docker run --rm -e DATABASE_URL=... launch-edge-origin migrate
#   docker run -d -p 8788:8788 -e DATABASE_URL=... -e ORIGIN_SIGNING_SECRET=... launch-edge-origin

FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN bash scripts/origin-release.sh build

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home origin
COPY --from=build /src/target/origin-release/launch-edge-origin /usr/local/bin/launch-edge-origin
COPY scripts/origin-release.sh /usr/local/bin/origin-release.sh
ENV ORIGIN_BIN=/usr/local/bin/launch-edge-origin \
    ORIGIN_BIND=0.0.0.0:8788 \
    RUST_LOG=info
USER origin
EXPOSE 8788
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s CMD curl -fsS http://127.0.0.1:8788/healthz || exit 1
ENTRYPOINT ["bash", "/usr/local/bin/origin-release.sh"]
CMD ["serve"]
