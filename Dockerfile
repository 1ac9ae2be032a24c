# gantry's container image: multi-stage, minimal, non-root.
#
#   docker build -t gantry .
#   docker run --rm -v "$PWD:/workspace" gantry run
#
# The build stage compiles the official plugins to wasm32-wasip2 and embeds them in
# the binary (host/build.rs), so the final image holds one static-enough binary and
# nothing else: no shell, no package manager.

FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN rustup target add wasm32-wasip2
COPY . .
RUN cargo build --release --locked -p gantry \
 && install -D -m 0755 target/release/gantry /out/gantry

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/gantry /usr/local/bin/gantry
# The workspace is mounted here; records go to /workspace/.gantry.
WORKDIR /workspace
USER nonroot:nonroot
ENV GANTRY_CACHE_DIR=/tmp/gantry-cache
ENTRYPOINT ["/usr/local/bin/gantry"]
CMD ["run"]
