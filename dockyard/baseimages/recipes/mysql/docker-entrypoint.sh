#!/usr/bin/env bash
# Entrypoint of dockyard's mysql/mariadb stand-in (MariaDB from Debian).
#
# `docker-entrypoint.sh mysqld [options]` (also mariadbd, or options alone): as root,
# fix the ownership of the data directory and run again as `mysql`; on the first start
# (no system tables in the data directory) create them, set the root password, create
# MYSQL_DATABASE / MYSQL_USER, run /docker-entrypoint-initdb.d/*, then replace this
# shell with the server so that it is PID 1 and stops cleanly on SIGTERM.
# Any other command is run as given.
set -Eeo pipefail

# What the entrypoints have in common: logging, file_env, init files, ... (recipes/_shared/)
# shellcheck source=SCRIPTDIR/../_shared/docker-lib.sh
source /usr/local/lib/docker-lib.sh
DOCKER_LOG_TIME='%Y-%m-%d %H:%M:%S%:z'
# The official image's names for them (sourced init scripts call them too).
mysql_note() { docker_note "$@"; }
mysql_warn() { docker_warn "$@"; }
mysql_error() { docker_error "$@"; }

# The MARIADB_* name wins over the MYSQL_* one; both are exported with the result so
# that initdb.d scripts can use either.
pick_env() {
	local mariadb=$1 mysql=$2 default=${3:-}
	file_env "$mariadb"
	file_env "$mysql"
	local value=${!mariadb:-${!mysql:-$default}}
	export "$mariadb"="$value" "$mysql"="$value"
}

# The server's settings after every option file and the command line are applied
# (`name value` lines), or exit showing why the server refuses its options.
server_settings() {
	local out
	if ! out=$("$@" --verbose --help 2>&1 >/dev/null); then
		mysql_error "$(printf 'the server refuses its configuration (%s --verbose --help):\n%s' "$*" "$out")"
	fi
	# the table of values follows a line of dashes, after the options' descriptions
	"$@" --verbose --help 2>/dev/null | awk '/^-+ +-+$/ { table = 1; next } table && NF == 2'
}

sql_string() { # a quoted SQL string literal
	local value=${1//\\/\\\\}
	printf "'%s'" "${value//\'/\\\'}"
}
sql_ident() { # a quoted SQL identifier
	printf '`%s`' "${1//\`/\`\`}"
}
# `sql_auth PASSWORD HASH`: how an account authenticates; the hash only without a password.
sql_auth() {
	if [[ -n $2 && -z $1 ]]; then
		printf 'IDENTIFIED BY PASSWORD %s' "$(sql_string "$2")"
	else
		printf 'IDENTIFIED BY %s' "$(sql_string "$1")"
	fi
}

setup_env() {
	pick_env MARIADB_ROOT_PASSWORD MYSQL_ROOT_PASSWORD
	pick_env MARIADB_ALLOW_EMPTY_ROOT_PASSWORD MYSQL_ALLOW_EMPTY_PASSWORD
	pick_env MARIADB_RANDOM_ROOT_PASSWORD MYSQL_RANDOM_ROOT_PASSWORD
	pick_env MARIADB_ROOT_HOST MYSQL_ROOT_HOST '%'
	pick_env MARIADB_DATABASE MYSQL_DATABASE
	pick_env MARIADB_USER MYSQL_USER
	pick_env MARIADB_PASSWORD MYSQL_PASSWORD
	pick_env MARIADB_INITDB_SKIP_TZINFO MYSQL_INITDB_SKIP_TZINFO
	file_env MARIADB_ROOT_PASSWORD_HASH
	file_env MARIADB_PASSWORD_HASH
	file_env MYSQL_ONETIME_PASSWORD
	file_env MARIADB_HEALTHCHECK_GRANTS USAGE

	local settings
	settings=$(server_settings "$@")
	DATADIR=$(awk '$1 == "datadir" { print $2 }' <<<"$settings")
	DATADIR=${DATADIR%/}
	SOCKET=$(awk '$1 == "socket" { print $2 }' <<<"$settings")
	if [[ -z $DATADIR || -z $SOCKET ]]; then
		mysql_error "could not read the server's configuration; check it with: $* --verbose --help"
	fi
	DATABASE_ALREADY_EXISTS=
	if [[ -d $DATADIR/mysql ]]; then
		DATABASE_ALREADY_EXISTS=true
	fi
}

check_env() {
	if [[ -z $MARIADB_ROOT_PASSWORD && -z $MARIADB_ROOT_PASSWORD_HASH &&
		-z $MARIADB_ALLOW_EMPTY_ROOT_PASSWORD && -z $MARIADB_RANDOM_ROOT_PASSWORD ]]; then
		mysql_error "$(
			cat <<-'EOT'
				Database is uninitialized and password option is not specified
				    The server will not start without a root password setting. Set one of these
				    environment variables (the MARIADB_* spellings work too):
				    - MYSQL_ROOT_PASSWORD=<password>
				    - MYSQL_ALLOW_EMPTY_PASSWORD=yes    (root without a password: unsafe)
				    - MYSQL_RANDOM_ROOT_PASSWORD=yes    (a generated password, printed in the log)
			EOT
		)"
	fi
	if [[ $MARIADB_USER == root ]]; then
		mysql_error "MYSQL_USER=\"root\": MYSQL_USER and MYSQL_PASSWORD create an ordinary user;" \
			"set root's password with MYSQL_ROOT_PASSWORD instead"
	fi
	if [[ -n $MARIADB_USER && -z $MARIADB_PASSWORD && -z $MARIADB_PASSWORD_HASH ]]; then
		mysql_warn "MYSQL_USER is set without MYSQL_PASSWORD: the user will have an empty password"
	elif [[ -z $MARIADB_USER && (-n $MARIADB_PASSWORD || -n $MARIADB_PASSWORD_HASH) ]]; then
		mysql_warn "MYSQL_PASSWORD is set without MYSQL_USER: it is ignored"
	fi
}

# As root: create the directories the server needs and give them to `mysql`.
prepare_dirs() {
	mkdir -p "$DATADIR"
	if [[ $(id -u) == 0 ]]; then
		docker_chown_all mysql:mysql "$DATADIR"
		local socket_dir
		socket_dir=$(dirname "$SOCKET")
		mkdir -p "$socket_dir"
		chown mysql:mysql "$socket_dir"
	fi
}

# Run SQL from stdin (or -e ...) as root over the unix socket of the server.
# `--dont-use-mysql-root-password` first: log in without a password.
docker_process_sql() {
	local password=$ROOT_LOGIN_PASSWORD
	if [[ $1 == --dont-use-mysql-root-password ]]; then
		password=
		shift
	fi
	if [[ -n $MARIADB_DATABASE ]]; then
		set -- --database="$MARIADB_DATABASE" "$@"
	fi
	local escaped=${password//\\/\\\\}
	mariadb --defaults-extra-file=<(printf '[client]\npassword="%s"\n' "${escaped//\"/\\\"}") \
		--protocol=socket --socket="$SOCKET" --user=root --comments --batch --skip-column-names "$@"
}

temp_server_start() {
	"$@" --skip-networking --socket="$SOCKET" --loose-wsrep-on=OFF \
		--loose-innodb-buffer-pool-load-at-startup=0 --loose-innodb-buffer-pool-dump-at-shutdown=0 &
	TEMP_SERVER_PID=$!
	mysql_note "Waiting for the temporary server"
	local i
	for ((i = 0; i < 300; i++)); do
		if docker_process_sql --dont-use-mysql-root-password --database=mysql -e 'SELECT 1' &>/dev/null; then
			mysql_note "Temporary server started"
			return
		fi
		if ! kill -0 "$TEMP_SERVER_PID" 2>/dev/null; then
			mysql_error "the temporary server exited during initialisation; see its messages above"
		fi
		sleep 0.2
	done
	mysql_error "the temporary server did not start within 60 seconds"
}

temp_server_stop() {
	mysql_note "Stopping the temporary server"
	kill -TERM "$TEMP_SERVER_PID"
	wait "$TEMP_SERVER_PID" || mysql_error "the temporary server did not stop cleanly"
	mysql_note "Temporary server stopped"
}

init_datadir() {
	mysql_note "Initializing database files in $DATADIR"
	# the server options given on the command line apply to the new tables too
	mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal \
		--skip-test-db --skip-name-resolve --default-time-zone=SYSTEM --cross-bootstrap \
		--loose-innodb-buffer-pool-load-at-startup=0 --loose-innodb-buffer-pool-dump-at-shutdown=0 \
		"${@:2}"
	mysql_note "Database files initialized"
}

random_password() {
	local pw
	pw=$(LC_ALL=C tr -dc 'A-Za-z0-9,.:;_+=^~@%-' </dev/urandom | head -c 32) || true
	printf '%s' "$pw"
}

setup_db() {
	ROOT_LOGIN_PASSWORD=
	if [[ -z $MARIADB_INITDB_SKIP_TZINFO ]]; then
		mysql_note "Loading time zone data into the mysql database"
		mariadb-tzinfo-to-sql /usr/share/zoneinfo 2>/dev/null |
			docker_process_sql --dont-use-mysql-root-password --database=mysql
	fi

	if [[ -n $MARIADB_RANDOM_ROOT_PASSWORD && -z $MARIADB_ROOT_PASSWORD && -z $MARIADB_ROOT_PASSWORD_HASH ]]; then
		MARIADB_ROOT_PASSWORD=$(random_password)
		export MARIADB_ROOT_PASSWORD MYSQL_ROOT_PASSWORD=$MARIADB_ROOT_PASSWORD
		mysql_note "GENERATED ROOT PASSWORD: $MARIADB_ROOT_PASSWORD"
	fi

	local root_auth
	root_auth=$(sql_auth "$MARIADB_ROOT_PASSWORD" "$MARIADB_ROOT_PASSWORD_HASH")
	local root_host_sql=
	if [[ $MARIADB_ROOT_HOST != localhost ]]; then
		root_host_sql="CREATE USER 'root'@$(sql_string "$MARIADB_ROOT_HOST") $root_auth;
GRANT ALL ON *.* TO 'root'@$(sql_string "$MARIADB_ROOT_HOST") WITH GRANT OPTION;
GRANT PROXY ON ''@'%' TO 'root'@$(sql_string "$MARIADB_ROOT_HOST") WITH GRANT OPTION;"
	fi
	# Only a hash: root@localhost keeps no password until the initdb.d files ran.
	local localhost_sql="ALTER USER 'root'@'localhost' $root_auth;"
	if [[ -n $MARIADB_ROOT_PASSWORD_HASH && -z $MARIADB_ROOT_PASSWORD ]]; then
		ROOT_LOCALHOST_LATER=$localhost_sql
		localhost_sql=
	fi

	local healthcheck_password healthcheck_sql=
	healthcheck_password=$(random_password)
	local host
	for host in 127.0.0.1 ::1 localhost; do
		healthcheck_sql+="CREATE USER 'healthcheck'@'$host' IDENTIFIED BY $(sql_string "$healthcheck_password");
GRANT $MARIADB_HEALTHCHECK_GRANTS ON *.* TO 'healthcheck'@'$host';
"
	done

	mysql_note "Securing system users (root password, no anonymous users, no test database)"
	docker_process_sql --dont-use-mysql-root-password --database=mysql <<-EOSQL
		SET @@SESSION.SQL_LOG_BIN=0;
		DELETE FROM mysql.global_priv
		    WHERE NOT (User = 'root' AND Host = 'localhost')
		      AND User NOT IN ('mariadb.sys', 'mysql.sys', 'mysql.session', 'mysql.infoschema');
		DELETE FROM mysql.proxies_priv WHERE NOT (User = 'root' AND Host = 'localhost');
		DELETE FROM mysql.db WHERE Db = 'test' OR Db = 'test\_%';
		FLUSH PRIVILEGES;
		$healthcheck_sql
		$root_host_sql
		$localhost_sql
		DROP DATABASE IF EXISTS test;
	EOSQL
	if [[ -n $localhost_sql ]]; then
		ROOT_LOGIN_PASSWORD=$MARIADB_ROOT_PASSWORD
	fi
	(
		umask 077
		printf '[mariadb-client]\nport=3306\nsocket=%s\nuser=healthcheck\npassword="%s"\n' \
			"$SOCKET" "$healthcheck_password" >"$DATADIR/.my-healthcheck.cnf"
	)

	if [[ -n $MARIADB_DATABASE ]]; then
		mysql_note "Creating database $MARIADB_DATABASE"
		docker_process_sql --database=mysql \
			-e "CREATE DATABASE IF NOT EXISTS $(sql_ident "$MARIADB_DATABASE");"
	fi
	if [[ -n $MARIADB_USER ]]; then
		mysql_note "Creating user $MARIADB_USER"
		local user_auth sql
		user_auth=$(sql_auth "$MARIADB_PASSWORD" "$MARIADB_PASSWORD_HASH")
		sql="CREATE USER $(sql_string "$MARIADB_USER")@'%' $user_auth;"
		if [[ -n $MARIADB_DATABASE ]]; then
			mysql_note "Giving user $MARIADB_USER access to schema $MARIADB_DATABASE"
			# `_` is a wildcard in grants: escape it so that exactly this database is granted
			local db=${MARIADB_DATABASE//_/\\_}
			sql+=" GRANT ALL ON $(sql_ident "$db").* TO $(sql_string "$MARIADB_USER")@'%';"
		fi
		docker_process_sql --database=mysql -e "$sql"
	fi
}

# How docker_process_init_files runs a *.sql file.
docker_process_sql_file() { docker_process_sql <"$1"; }

finish_init() {
	if [[ -n $ROOT_LOCALHOST_LATER ]]; then
		docker_process_sql --database=mysql -e "$ROOT_LOCALHOST_LATER"
	fi
	if [[ -n $MYSQL_ONETIME_PASSWORD ]]; then
		mysql_note "Expiring the root password: it must be changed at the first login"
		local expire="ALTER USER 'root'@'localhost' PASSWORD EXPIRE;"
		if [[ $MARIADB_ROOT_HOST != localhost ]]; then
			expire+=" ALTER USER 'root'@$(sql_string "$MARIADB_ROOT_HOST") PASSWORD EXPIRE;"
		fi
		docker_process_sql --database=mysql -e "$expire"
	fi
}

_main() {
	# options only: they are the server's
	if [[ ${1:0:1} == - ]]; then
		set -- mysqld "$@"
	fi

	if [[ ($1 == mysqld || $1 == mariadbd) ]] && ! docker_wants_help --print-defaults "$@"; then
		mysql_note "Entrypoint script for MariaDB Server $(mariadbd --version | awk '{print $3}') started."
		setup_env "$@"
		prepare_dirs
		if [[ $(id -u) == 0 ]]; then
			mysql_note "Switching to dedicated user 'mysql'"
			docker_exec_as mysql "$@"
		fi

		if [[ -z $DATABASE_ALREADY_EXISTS ]]; then
			check_env
			init_datadir "$@"
			temp_server_start "$@"
			setup_db
			docker_process_initdb_dir
			finish_init
			temp_server_stop
			echo
			mysql_note "MariaDB init process done. Ready for start up."
			echo
		else
			mysql_note "Database directory $DATADIR already holds a database: skipping initialization"
		fi
	fi
	exec "$@"
}

_main "$@"
