# shellcheck shell=bash
# Shell helpers the image entrypoints have in common (mysql, postgres, redmine). Every
# recipe's build context holds this file as _shared/docker-lib.sh (recipes.py, SHARED);
# an image that wants it copies it to /usr/local/lib/docker-lib.sh and its entrypoint
# sources it. Sourcing only defines functions: nothing runs.
#
# Messages: with DOCKER_LOG_TIME set (a date(1) format) they are in the official images'
# style, `<time> [Note] [Entrypoint]: ...`; without it, plain `[entrypoint] ...` lines.
#
# docker_process_init_files expects the entrypoint to define docker_process_sql (SQL on
# stdin, client options as arguments) and docker_process_sql_file FILE.

docker_log() {
	local level=$1
	shift
	if [[ -n ${DOCKER_LOG_TIME:-} ]]; then
		printf '%s [%s] [Entrypoint]: %s\n' "$(date "+$DOCKER_LOG_TIME")" "$level" "$*"
	elif [[ $level == Note ]]; then
		printf '[entrypoint] %s\n' "$*"
	else
		printf '[entrypoint] %s: %s\n' "${level,,}" "$*"
	fi
}
docker_note() { docker_log Note "$@"; }
# Warnings and errors go to stderr, so that they stand out in `docker logs`.
docker_warn() { docker_log Warn "$@" >&2; }
docker_error() {
	docker_log ERROR "$@" >&2
	exit 1
}

# VAR may also be given as VAR_FILE, the path of a file holding the value (secrets).
# The name is the official images' one: sourced init scripts may call it too.
file_env() {
	local name=$1 default=${2:-} file_name="${1}_FILE"
	local value=${!name:-} file=${!file_name:-}
	if [[ -n $value && -n $file ]]; then
		docker_error "both $name and $file_name are set; use only one of them"
	fi
	if [[ -n $file ]]; then
		value=$(<"$file")
	fi
	export "$name"="${value:-$default}"
	unset "$file_name"
}

# `docker_wants_help EXTRA "$@"`: true when the server command line "$@" only asks for
# information (-?, --help, -V, --version, or one of the space-separated options EXTRA),
# so that the entrypoint must neither initialise anything nor switch users for it.
docker_wants_help() {
	local -a extra
	local arg option
	read -ra extra <<<"$1"
	shift
	for arg; do
		for option in '-?' --help -V --version "${extra[@]}"; do
			if [[ $arg == "$option" ]]; then
				return 0
			fi
		done
	done
	return 1
}

# `docker_chown_all USER[:GROUP] PATH...`: give USER whatever below PATH it does not own
# yet (files in a volume may come from another image or the host). Only what must change
# is touched, so that a large data directory owned already costs nothing.
docker_chown_all() {
	local owner=$1
	shift
	find "$@" \! -user "${owner%%:*}" -exec chown "$owner" '{}' +
}

# `docker_exec_as USER "$@"`: run the entrypoint again as USER, replacing this process (so
# that the server ends up as PID 1). $0 is the entrypoint by the name it was called by,
# which decides what it does (postgres's docker-ensure-initdb.sh); BASH_SOURCE here would
# be this library.
docker_exec_as() {
	local user=$1
	shift
	exec gosu "$user" "$0" "$@"
}

# Run the given files in order (those of /docker-entrypoint-initdb.d, as the official
# images do): executable *.sh run, other *.sh are sourced (they see these functions and
# the entrypoint's), SQL (plain or compressed) goes to the server, the rest is ignored.
docker_process_init_files() {
	echo
	local f
	for f; do
		case $f in
			*.sh)
				if [[ -x $f ]]; then
					docker_note "$0: running $f"
					"$f"
				else
					docker_note "$0: sourcing $f"
					# shellcheck disable=SC1090
					. "$f"
				fi
				;;
			*.sql) docker_note "$0: running $f"; docker_process_sql_file "$f" ;;
			*.sql.gz) docker_note "$0: running $f"; gzip -dc "$f" | docker_process_sql ;;
			*.sql.xz) docker_note "$0: running $f"; xz -dc "$f" | docker_process_sql ;;
			*.sql.bz2) docker_note "$0: running $f"; bzip2 -dc "$f" | docker_process_sql ;;
			*.sql.zst) docker_note "$0: running $f"; zstd -dcq "$f" | docker_process_sql ;;
			*) docker_warn "$0: ignoring $f" ;;
		esac
		echo
	done
}

# Every file of /docker-entrypoint-initdb.d, in name order (none: nothing to do).
docker_process_initdb_dir() {
	shopt -s nullglob
	docker_process_init_files /docker-entrypoint-initdb.d/*
	shopt -u nullglob
}
