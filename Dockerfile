# syntax=docker/dockerfile:1
# The stepwise binary on a slim base. Build: docker build -t stepwise .
# The cargo registry and the target directory live in BuildKit cache mounts, so a change to
# Stepwise's sources rebuilds Stepwise, not its few hundred dependencies.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p stepwise-api --bin stepwise \
    && cp target/release/stepwise /usr/local/bin/stepwise

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 stepwise && mkdir /data && chown stepwise /data
COPY --from=build /usr/local/bin/stepwise /usr/local/bin/stepwise
USER stepwise
WORKDIR /data
EXPOSE 8080
ENTRYPOINT ["stepwise"]
CMD ["serve", "--listen", "0.0.0.0:8080"]
