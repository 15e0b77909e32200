#!/usr/bin/env bash
# Entrypoint of dockyard's postgres stand-in (PostgreSQL from Debian).
#
# `docker-entrypoint.sh postgres [options]` (or options alone): as root, fix the
# ownership of PGDATA and run again as `postgres`; when PGDATA holds no cluster, create
# one (superuser POSTGRES_USER with POSTGRES_PASSWORD, database POSTGRES_DB, password
# authentication for remote hosts), run /docker-entrypoint-initdb.d/* against it on a
# socket-only temporary server, then replace this shell with the server (PID 1).
# Any other command is run as given.
#
# Called as docker-ensure-initdb.sh it only creates the cluster if there is none;
# as docker-enforce-initdb.sh it fails when one exists. Neither starts the server.
set -Eeo pipefail

# What the entrypoints have in common: logging, file_env, init files, ... (recipes/_shared/)
# shellcheck source=SCRIPTDIR/../_shared/docker-lib.sh
source /usr/local/lib/docker-lib.sh
DOCKER_LOG_TIME='%Y-%m-%d %H:%M:%S %Z'

docker_setup_env() {
	file_env POSTGRES_PASSWORD
	file_env POSTGRES_USER postgres
	file_env POSTGRES_DB "$POSTGRES_USER"
	file_env POSTGRES_INITDB_ARGS
	: "${POSTGRES_HOST_AUTH_METHOD:=}"
	DATABASE_ALREADY_EXISTS=
	if [[ -s $PGDATA/PG_VERSION ]]; then
		DATABASE_ALREADY_EXISTS=true
	fi
}

# Directories for the cluster and the socket; as root, owned by `postgres`.
docker_create_db_directories() {
	local uid
	uid=$(id -u)
	mkdir -p "$PGDATA"
	# initdb insists on 0700 (or 0750); only the owner may change it
	chmod 00700 "$PGDATA" 2>/dev/null || :
	mkdir -p /var/run/postgresql || :
	chmod 03775 /var/run/postgresql 2>/dev/null || :
	if [[ -n ${POSTGRES_INITDB_WALDIR:-} ]]; then
		mkdir -p "$POSTGRES_INITDB_WALDIR"
		if [[ $uid == 0 ]]; then
			docker_chown_all postgres "$POSTGRES_INITDB_WALDIR"
		fi
		chmod 700 "$POSTGRES_INITDB_WALDIR" 2>/dev/null || :
	fi
	if [[ $uid == 0 ]]; then
		docker_chown_all postgres "$PGDATA"
		docker_chown_all postgres /var/run/postgresql
	fi
}

docker_verify_minimum_env() {
	if [[ -z $POSTGRES_PASSWORD && $POSTGRES_HOST_AUTH_METHOD != trust ]]; then
		docker_error "$(
			cat <<-'EOT'
				Database is uninitialized and superuser password is not specified.
				    Set POSTGRES_PASSWORD to a non-empty password for the superuser, for
				    example with -e POSTGRES_PASSWORD=secret on `docker run`.

				    POSTGRES_HOST_AUTH_METHOD=trust instead lets every host connect as any
				    user without a password: never do that where the port can be reached.
			EOT
		)"
	fi
	if [[ $POSTGRES_HOST_AUTH_METHOD == trust ]]; then
		docker_warn "POSTGRES_HOST_AUTH_METHOD=trust: every host that reaches this server" \
			"may connect as any user, superuser included, without a password"
	fi
}

docker_init_database_dir() {
	# initdb needs a passwd entry for the current uid (docker run --user 1234)
	local wrapper=()
	if ! getent passwd "$(id -u)" &>/dev/null; then
		local lib
		for lib in /usr/lib/*/libnss_wrapper.so /usr/lib/libnss_wrapper.so; do
			if [[ -e $lib ]]; then
				NSS_WRAPPER_PASSWD=$(mktemp)
				NSS_WRAPPER_GROUP=$(mktemp)
				printf 'postgres:x:%s:%s:PostgreSQL:%s:/bin/false\n' "$(id -u)" "$(id -g)" "$PGDATA" >"$NSS_WRAPPER_PASSWD"
				printf 'postgres:x:%s:\n' "$(id -g)" >"$NSS_WRAPPER_GROUP"
				wrapper=(env LD_PRELOAD="$lib" NSS_WRAPPER_PASSWD="$NSS_WRAPPER_PASSWD" NSS_WRAPPER_GROUP="$NSS_WRAPPER_GROUP")
				break
			fi
		done
	fi

	if [[ -n ${POSTGRES_INITDB_WALDIR:-} ]]; then
		set -- --waldir "$POSTGRES_INITDB_WALDIR" "$@"
	fi
	# the password reaches initdb through a pipe, never a file or the command line; it
	# is expanded in the same command as initdb so that the pipe is still open
	local pwfile=
	if [[ -n $POSTGRES_PASSWORD ]]; then
		pwfile='--pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD")'
	fi
	# POSTGRES_INITDB_ARGS is split like a shell command line (quotes work)
	eval '"${wrapper[@]}" initdb --username="$POSTGRES_USER" '"$pwfile $POSTGRES_INITDB_ARGS"' "$@"'

	if [[ ${#wrapper[@]} -gt 0 ]]; then
		rm -f "$NSS_WRAPPER_PASSWD" "$NSS_WRAPPER_GROUP"
	fi
}

# Remote hosts log in with a password (or as POSTGRES_HOST_AUTH_METHOD says).
pg_setup_hba_conf() {
	local method=$POSTGRES_HOST_AUTH_METHOD
	if [[ -z $method ]]; then
		# follow password_encryption, so that stored passwords can be checked
		if [[ $("$@" -C password_encryption 2>/dev/null) == md5 ]]; then
			method=md5
		else
			method=scram-sha-256
		fi
	fi
	{
		printf '\n# added by the image entrypoint: every other host, with %s\n' "$method"
		if [[ $method == trust ]]; then
			printf '# POSTGRES_HOST_AUTH_METHOD=trust: no password checks at all\n'
		fi
		printf 'host all all all %s\n' "$method"
	} >>"$PGDATA/pg_hba.conf"
}

# Run SQL (stdin, or -f FILE / -c ...) as POSTGRES_USER in POSTGRES_DB.
docker_process_sql() {
	local runner=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
	if [[ -n $POSTGRES_DB ]]; then
		runner+=(--dbname "$POSTGRES_DB")
	fi
	PGHOST= PGHOSTADDR= "${runner[@]}" "$@"
}

docker_setup_db() {
	if [[ $POSTGRES_DB == postgres ]]; then
		return
	fi
	local exists
	exists=$(POSTGRES_DB= docker_process_sql --dbname postgres --tuples-only --no-align \
		--set db="$POSTGRES_DB" <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")
	if [[ -z $exists ]]; then
		POSTGRES_DB= docker_process_sql --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
		echo
	fi
}

docker_temp_server_start() {
	# no TCP while initialising: only the unix socket
	local options
	options="-c listen_addresses='' -p ${PGPORT:-5432}"
	if [[ $# -gt 1 ]]; then
		# the server options of the command line apply to the temporary server too
		options+=" $(printf '%q ' "${@:2}")"
	fi
	PGUSER=${PGUSER:-$POSTGRES_USER} pg_ctl -D "$PGDATA" -o "$options" -w start
}

docker_temp_server_stop() {
	PGUSER=${PGUSER:-postgres} pg_ctl -D "$PGDATA" -m fast -w stop
}

# How docker_process_init_files runs a *.sql file: named, so that psql's messages say
# which file failed, and \ir includes paths relative to it.
docker_process_sql_file() { docker_process_sql -f "$1"; }

# Create and initialise the cluster; "$@" is the server command line.
docker_init() {
	docker_verify_minimum_env
	# files in the directory must be readable before the work starts
	ls /docker-entrypoint-initdb.d/ >/dev/null
	docker_init_database_dir
	pg_setup_hba_conf "$@"
	# the .sh files may use psql over TCP too, or a password for local logins
	export PGPASSWORD=${PGPASSWORD:-$POSTGRES_PASSWORD}
	docker_temp_server_start "$@"
	docker_setup_db
	docker_process_initdb_dir
	docker_temp_server_stop
	unset PGPASSWORD
	echo
	docker_note "PostgreSQL init process complete; ready for start up."
	echo
}

_main() {
	local mode
	mode=$(basename "$0")
	if [[ $mode == docker-ensure-initdb.sh || $mode == docker-enforce-initdb.sh ]]; then
		if [[ $# == 0 || ${1:0:1} == - ]]; then
			set -- postgres "$@"
		fi
	elif [[ ${1:0:1} == - ]]; then
		set -- postgres "$@"
	fi

	if [[ $1 == postgres ]] && ! docker_wants_help --describe-config "$@"; then
		docker_setup_env
		docker_create_db_directories
		if [[ $(id -u) == 0 ]]; then
			docker_exec_as postgres "$@"
		fi
		if [[ -z $DATABASE_ALREADY_EXISTS ]]; then
			docker_init "$@"
		elif [[ $mode == docker-enforce-initdb.sh ]]; then
			docker_error "PGDATA ($PGDATA) already holds a database; refusing to initialise it again"
		else
			docker_note "PGDATA ($PGDATA) already holds a database: skipping initialization"
		fi
		if [[ $mode == docker-ensure-initdb.sh || $mode == docker-enforce-initdb.sh ]]; then
			exit 0
		fi
	fi
	exec "$@"
}

_main "$@"
