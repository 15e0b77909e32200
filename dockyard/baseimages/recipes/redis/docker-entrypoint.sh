#!/bin/bash
# Entrypoint of the redis stand-in image.
#   docker run redis                       -> redis-server
#   docker run redis --appendonly yes      -> redis-server --appendonly yes
#   docker run redis /etc/my/redis.conf    -> redis-server /etc/my/redis.conf
#   docker run redis redis-cli ...         -> runs as given
# redis-server runs as the redis user (uid 999), after the files of the working
# directory (/data) are given to it, with umask 0077; without a configuration file
# that decides protected-mode, protected mode is off, so other containers can connect.
set -e

# An option or a configuration file: arguments for redis-server.
case "${1:-}" in
    -*|*.conf) set -- redis-server "$@" ;;
esac

if [ "${1:-}" = redis-server ]; then
    # Started as root: hand the data to redis and start again as redis.
    if [ "$(id -u)" = 0 ]; then
        find . \! -user redis -exec chown redis '{}' + 2>/dev/null || true
        exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
    fi

    # Files redis writes (dumps, append-only files) are its own alone, unless the
    # container was given a umask of its own.
    if [ "$(umask)" = 0022 ]; then
        umask 0077
    fi

    # redis-server [CONFIG-FILE] [-] [--option value ...]: command-line options are
    # applied after the file (and after a configuration read from stdin, "-") and win
    # over them, so "--protected-mode no" goes right after the file, before the user's
    # own options, and only when neither the file nor stdin may set protected-mode.
    shift
    config=()
    if [ "$#" -gt 0 ] && [ "${1#-}" = "$1" ]; then
        config=("$1")
        shift
    fi
    decided=
    if [ "${#config[@]}" -eq 1 ] && grep -qiE '^[[:space:]]*protected-mode[[:space:]]' "${config[0]}" 2>/dev/null; then
        decided=1
    fi
    for arg in "$@"; do
        if [ "$arg" = - ]; then
            decided=1
        fi
    done
    if [ -n "$decided" ]; then
        set -- redis-server "${config[@]}" "$@"
    else
        set -- redis-server "${config[@]}" --protected-mode no "$@"
    fi
fi

exec "$@"
