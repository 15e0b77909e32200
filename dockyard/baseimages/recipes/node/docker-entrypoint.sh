#!/bin/sh
# Entrypoint of the node stand-in image: `docker run node script.js`, `docker run node -e
# CODE` and `docker run node --version` run node; any other command runs as given.
set -e

if [ "$#" -eq 0 ]; then
    set -- node
fi

case "$1" in
    -*)
        # An option: it is meant for node.
        set -- node "$@"
        ;;
    *)
        # Not something the shell can run (e.g. "app.js"), or a file that is there but
        # not executable: hand it to node as a script.
        if ! command -v -- "$1" >/dev/null 2>&1 || { [ -f "$1" ] && [ ! -x "$1" ]; }; then
            set -- node "$@"
        fi
        ;;
esac

exec "$@"
