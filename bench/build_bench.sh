#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Build benchmarks, dockyard vs Docker's classic builder, side by side:
#   bench/build_bench.sh unix:///path/dockyard.sock unix:///path/docker.sock
# (both need busybox loaded). Prints seconds for: 10 RUN steps uncached, the same fully
# cached, a 50 MB COPY context uncached.
set -e
DY=$1; DK=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/runs" "$work/copy"
{ echo "FROM busybox"; for i in $(seq 10); do echo "RUN echo step $i > /s$i"; done; } > "$work/runs/Dockerfile"
printf 'FROM busybox\nCOPY . /data/\n' > "$work/copy/Dockerfile"
head -c 52428800 /dev/urandom > "$work/copy/blob"
t() { local s=$(date +%s.%N); "$@" >/dev/null 2>&1; echo "$(date +%s.%N) - $s" | bc; }
export DOCKER_BUILDKIT=0 DOCKER_CONFIG=$work/cfg
for host in "$DY" "$DK"; do
  echo "$host"
  echo "  10 RUN uncached: $(t docker -H "$host" build --no-cache --network none "$work/runs")"
  echo "  10 RUN cached:   $(t docker -H "$host" build --network none "$work/runs")"
  echo "  50MB COPY:       $(t docker -H "$host" build --no-cache "$work/copy")"
done
