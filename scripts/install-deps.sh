#!/usr/bin/env bash
# Installs what dockyard needs on a Debian machine, as root, skipping what is present:
# system packages from Debian, Python packages from PyPI into .venv, and the `dockyard`
# and `dockyardd` commands on the PATH. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

want_pkgs=(runc conmon libseccomp2 busybox-static tini iproute2 nftables ca-certificates python3-venv mmdebstrap debian-archive-keyring)
# Test-only: a real engine, and the reference registry, skopeo and openssl for the
# distribution round trips.
# iptables: dockyard's rules beside a Docker engine's; wrk: bench/net_throughput.
[ "${1:-}" = "--test" ] && want_pkgs+=(docker.io docker-registry skopeo openssl iptables wrk docker-compose)
missing=()
for p in "${want_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The differential tests need a real engine (dockerd); a docker CLI alone is not enough.
if [ ${#missing[@]} -gt 0 ] && command -v dockerd >/dev/null; then
  missing=("${missing[@]/docker.io}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

py=$(command -v python3)
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
fi
extras=""
[ "${1:-}" = "--test" ] && extras="[test]"
stamp=".venv/.installed$extras"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  # compat mode: a plain path entry, not an import hook that every CLI start would pay for
  .venv/bin/pip install -q --disable-pip-version-check --config-settings editable_mode=compat -e ".$extras"
  touch "$stamp"
fi
# Bytecode for the CLI's own modules, so each command starts without compiling them
# (honoured even where PYTHONDONTWRITEBYTECODE keeps Python from writing it itself).
if [ -n "$(find dockyard -name '*.py' -newer .venv/.compiled 2>/dev/null | head -1)" ] || [ ! -f .venv/.compiled ]; then
  .venv/bin/python -m compileall -q dockyard >/dev/null
  touch .venv/.compiled
fi
for cmd in dockyard dockyardd; do
  ln -sf "$PWD/.venv/bin/$cmd" "/usr/local/bin/$cmd"
done
