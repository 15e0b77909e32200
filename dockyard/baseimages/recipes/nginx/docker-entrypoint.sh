#!/bin/sh
# Entrypoint of the nginx stand-in image. When the command is nginx (or nginx-debug), the
# hooks in /docker-entrypoint.d/ run first, in name order: executable *.sh files are run,
# executable *.envsh files are sourced (so what they export reaches later hooks and
# nginx), anything else is skipped. Set NGINX_ENTRYPOINT_QUIET_LOGS to silence this.
# Any other command runs as given, without the hooks.
set -e

HOOK_DIR=/docker-entrypoint.d

note() {
    if [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then
        echo "$0: $*"
    fi
}

if [ "$1" = nginx ] || [ "$1" = nginx-debug ]; then
    hooks=$(find "$HOOK_DIR/" -mindepth 1 -maxdepth 1 -type f 2>/dev/null | sort)
    if [ -n "$hooks" ]; then
        note "$HOOK_DIR/ is not empty, will attempt to perform configuration"
        note "Looking for shell scripts in $HOOK_DIR/"
        old_ifs=$IFS
        IFS='
'
        for hook in $hooks; do
            IFS=$old_ifs
            case "$hook" in
                *.envsh)
                    if [ -x "$hook" ]; then
                        note "Sourcing $hook"
                        . "$hook"
                    else
                        note "Ignoring $hook, not executable"
                    fi
                    ;;
                *.sh)
                    if [ -x "$hook" ]; then
                        note "Launching $hook"
                        "$hook"
                    else
                        note "Ignoring $hook, not executable"
                    fi
                    ;;
                *)
                    note "Ignoring $hook"
                    ;;
            esac
        done
        IFS=$old_ifs
        note "Configuration complete; ready for start up"
    else
        note "No files found in $HOOK_DIR/, skipping configuration"
    fi
fi

exec "$@"
