# The stepwise binary on a slim base. Build: docker build -t stepwise .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p stepwise-api --bin stepwise

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 stepwise && mkdir /data && chown stepwise /data
COPY --from=build /src/target/release/stepwise /usr/local/bin/stepwise
USER stepwise
WORKDIR /data
EXPOSE 8080
ENTRYPOINT ["stepwise"]
CMD ["serve", "--listen", "0.0.0.0:8080"]
