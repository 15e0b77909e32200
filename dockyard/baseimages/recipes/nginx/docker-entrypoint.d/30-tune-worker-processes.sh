#!/bin/sh
# With NGINX_ENTRYPOINT_WORKER_PROCESSES_AUTOTUNE set, set worker_processes in
# /etc/nginx/nginx.conf to the CPUs this container may really use (its cgroup CPU quota
# and cpuset), where nginx's "auto" would count every CPU of the host.
set -e

ME=$(basename "$0")
CONF=/etc/nginx/nginx.conf

note() {
    if [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then
        echo "$ME: $*"
    fi
}

[ -n "${NGINX_ENTRYPOINT_WORKER_PROCESSES_AUTOTUNE:-}" ] || exit 0

if ! touch "$CONF" 2>/dev/null; then
    note "info: $CONF is read-only, leaving worker_processes as is"
    exit 0
fi

cpus=$(nproc 2>/dev/null || echo 1)

# cgroup v2: "max 100000" or "QUOTA PERIOD"; cgroup v1: cpu.cfs_quota_us / cpu.cfs_period_us.
quota=""
period=""
if [ -r /sys/fs/cgroup/cpu.max ]; then
    read -r quota period < /sys/fs/cgroup/cpu.max || true
elif [ -r /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
    quota=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)
    period=$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)
fi
case "$quota" in
    ''|max|-1) ;;
    *)
        if [ "${period:-0}" -gt 0 ]; then
            limit=$(( (quota + period - 1) / period ))
            [ "$limit" -ge 1 ] || limit=1
            [ "$limit" -lt "$cpus" ] && cpus=$limit
        fi
        ;;
esac

sed -i "s/^\([[:space:]]*worker_processes[[:space:]]\+\)[^;]*;/\1$cpus;/" "$CONF"
note "info: worker_processes set to $cpus"
