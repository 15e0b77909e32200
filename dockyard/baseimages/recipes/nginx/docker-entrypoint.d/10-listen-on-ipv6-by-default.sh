#!/bin/sh
# Let the default site answer on IPv6 too: add "listen [::]:80;" to
# /etc/nginx/conf.d/default.conf, but only when the kernel has IPv6 and the file is the
# one the image shipped (a file you changed or mounted is left alone).
set -e

ME=$(basename "$0")
CONF=/etc/nginx/conf.d/default.conf
SHIPPED_SUM=/usr/share/nginx/default.conf.sha256

note() {
    if [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then
        echo "$ME: $*"
    fi
}

if [ ! -f /proc/net/if_inet6 ]; then
    note "info: IPv6 is not available in this container, leaving $CONF as is"
    exit 0
fi
if [ ! -f "$CONF" ]; then
    note "info: $CONF is not there, nothing to do"
    exit 0
fi
if ! touch "$CONF" 2>/dev/null; then
    note "info: $CONF is read-only, leaving it as is"
    exit 0
fi
if grep -q 'listen[[:space:]]*\[::\]' "$CONF"; then
    note "info: $CONF already listens on IPv6"
    exit 0
fi
if [ ! -f "$SHIPPED_SUM" ] || ! sha256sum -c --status "$SHIPPED_SUM" 2>/dev/null; then
    note "info: $CONF differs from the one in the image, leaving it as is"
    exit 0
fi

sed -i 's/^\([[:space:]]*\)listen\([[:space:]]*\)80;$/&\n\1listen\2[::]:80;/' "$CONF"
note "info: enabled listen on IPv6 in $CONF"
