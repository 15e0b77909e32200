#!/bin/sh
# Render configuration templates: every file under $NGINX_ENVSUBST_TEMPLATE_DIR
# (/etc/nginx/templates) named *$NGINX_ENVSUBST_TEMPLATE_SUFFIX (.template) becomes the
# same path, suffix removed, under $NGINX_ENVSUBST_OUTPUT_DIR (/etc/nginx/conf.d), with
# ${VAR} references to variables of the environment replaced. Only variables that are
# set are replaced (nginx's own $host, $uri... stay), and NGINX_ENVSUBST_FILTER, a
# regular expression, narrows which ones are.
set -e

ME=$(basename "$0")

note() {
    if [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then
        echo "$ME: $*"
    fi
}

template_dir=${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}
suffix=${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}
output_dir=${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}
filter=${NGINX_ENVSUBST_FILTER:-}

[ -d "$template_dir" ] || exit 0
if [ ! -w "$output_dir" ]; then
    note "ERROR: $template_dir exists, but $output_dir is not writable"
    exit 0
fi

# The list envsubst replaces: "${A} ${B} ...", names of the current environment.
names=$(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' | sort -u)
if [ -n "$filter" ]; then
    names=$(printf '%s\n' "$names" | grep -E "$filter" || true)
fi
defined=$(printf '${%s} ' $names)

find "$template_dir" -follow -type f -name "*$suffix" -print | sort | while IFS= read -r template; do
    relative=${template#"$template_dir"/}
    output="$output_dir/${relative%"$suffix"}"
    mkdir -p "$(dirname "$output")"
    note "Running envsubst on $template to $output"
    envsubst "$defined" < "$template" > "$output"
done
