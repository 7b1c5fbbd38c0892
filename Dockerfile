# syntax=docker/dockerfile:1
#
# box-mcp as a container image: a Rust builder stage, then a runtime image that holds
# only the binary, the C runtime it links against and the CA certificates.
#
#   docker build -t box-mcp .
#   docker run --rm -p 8000:8000 \
#       -e BOX_MCP_LISTEN=0.0.0.0:8000 \
#       -e BOX_MCP_PUBLIC_BASE_URL=https://mcp.example.com \
#       -e BOX_MCP_AUTH__ISSUER=https://idp.example.com/realms/box-mcp \
#       box-mcp
#
# Configuration comes from BOX_MCP_* environment variables (see the README), or from
# a TOML file mounted into the container and named by BOX_MCP_CONFIG.
# `docker run … box-mcp config check` validates it (the ENTRYPOINT is the binary, the
# CMD is the subcommand).

# Rust 1.88 is the rust-version in Cargo.toml; override with --build-arg.
ARG RUST_VERSION=1.88

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /build
# Only what `cargo build` needs; everything else is left out of the context by
# .dockerignore and not copied either.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY sandbox ./sandbox
# Cargo reads every target the manifest names, benches included, and every
# workspace member's manifest (loadbench/ is not built here).
COPY benches ./benches
COPY loadbench ./loadbench
# The cache mounts keep the registry and compiled dependencies between builds; the
# binary is copied out because the target directory is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/build/target,sharing=locked \
    cargo build --release --locked --bin box-mcp --bin box-sandbox \
    && install -D -m 0755 target/release/box-mcp /out/box-mcp \
    && install -D -m 0755 target/release/box-sandbox /out/box-sandbox

# distroless/cc: glibc, libgcc, CA certificates (/etc/ssl/certs) and a `nonroot`
# user (65532), no shell and no package manager. Debian 12, like the builder, so the
# glibc the binary was linked against is the one it runs with.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/box-mcp /usr/local/bin/box-mcp
# The local Box API emulator, for the demo (compose's box-sandbox service); its seed is built in.
COPY --from=build /out/box-sandbox /usr/local/bin/box-sandbox
# The tool policy, read relative to the working directory (policies/model.conf and
# policies/policy.csv); mount your own over /app/policies.
WORKDIR /app
COPY policies ./policies
USER nonroot:nonroot
# The default listen address is loopback, which is unreachable from outside a
# container: listen on every interface here. Override with BOX_MCP_LISTEN.
ENV BOX_MCP_LISTEN=0.0.0.0:8000
EXPOSE 8000
ENTRYPOINT ["/usr/local/bin/box-mcp"]
CMD ["serve"]
