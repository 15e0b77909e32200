#!/usr/bin/env bash
# Entrypoint of dockyard's redmine stand-in (Redmine from Debian).
#
# For `rails ...`, `rake ...` and `puma ...`: as root, hand the writable directories to
# `redmine` and run again as that user; write config/database.yml from REDMINE_DB_* when
# there is none (MySQL, PostgreSQL, or SQLite in sqlite/ by default), make a secret key,
# migrate the database (waiting for the server to accept connections), then run the
# command. Any other command is run as given.
set -Eeo pipefail

# What the entrypoints have in common: logging, file_env, ... (recipes/_shared/); without
# DOCKER_LOG_TIME its messages are plain `[entrypoint] ...` lines.
# shellcheck source=SCRIPTDIR/../_shared/docker-lib.sh
source /usr/local/lib/docker-lib.sh

yaml_string() { # a double-quoted YAML scalar
	local value=${1//\\/\\\\}
	printf '"%s"' "${value//\"/\\\"}"
}

write_database_yml() {
	local adapter host port username database encoding
	file_env REDMINE_DB_MYSQL
	file_env REDMINE_DB_POSTGRES
	file_env REDMINE_DB_SQLSERVER
	if [[ -n $REDMINE_DB_MYSQL ]]; then
		adapter=mysql2 host=$REDMINE_DB_MYSQL port=3306 username=root encoding=utf8mb4
	elif [[ -n $REDMINE_DB_POSTGRES ]]; then
		adapter=postgresql host=$REDMINE_DB_POSTGRES port=5432 username=postgres encoding=utf8
	elif [[ -n $REDMINE_DB_SQLSERVER ]]; then
		docker_error "REDMINE_DB_SQLSERVER: this image has no SQL Server adapter (use MySQL, PostgreSQL or SQLite)"
	else
		adapter=sqlite3
	fi
	file_env REDMINE_DB_PORT "${port:-}"
	file_env REDMINE_DB_USERNAME "${username:-}"
	file_env REDMINE_DB_PASSWORD
	file_env REDMINE_DB_DATABASE "$([[ $adapter == sqlite3 ]] && echo sqlite/redmine.db || echo redmine)"
	file_env REDMINE_DB_ENCODING "${encoding:-utf8}"

	{
		printf '# written by docker-entrypoint.sh from REDMINE_DB_*; delete it to write it again\n'
		printf '%s:\n' "$RAILS_ENV"
		printf '  adapter: %s\n' "$adapter"
		printf '  database: %s\n' "$(yaml_string "$REDMINE_DB_DATABASE")"
		if [[ $adapter != sqlite3 ]]; then
			printf '  host: %s\n' "$(yaml_string "$host")"
			printf '  port: %s\n' "$REDMINE_DB_PORT"
			printf '  username: %s\n' "$(yaml_string "$REDMINE_DB_USERNAME")"
			printf '  password: %s\n' "$(yaml_string "$REDMINE_DB_PASSWORD")"
		fi
		printf '  encoding: %s\n' "$REDMINE_DB_ENCODING"
	} >config/database.yml
	docker_note "wrote config/database.yml ($adapter${host:+ on $host})"
}

# Migrate, retrying while the database server is not up yet (fresh compose stacks).
migrate() {
	local i out
	for ((i = 1; ; i++)); do
		if out=$(rake db:migrate 2>&1); then
			if [[ -n $out ]]; then
				printf '%s\n' "$out"
			fi
			return 0
		fi
		if ((i >= 30)) || ! grep -qiE "can't connect|could not connect|connection refused|Unknown MySQL server host|could not translate host|is starting up|No such file or directory - connect|Connection timed out" <<<"$out"; then
			printf '%s\n' "$out" >&2
			docker_error "rake db:migrate failed"
		fi
		docker_note "database not reachable yet; retrying in 2s ($i/30)"
		sleep 2
	done
}

_main() {
	case $1 in
		rails | rake | puma | passenger) ;;
		*) exec "$@" ;;
	esac

	if [[ $(id -u) == 0 ]]; then
		docker_chown_all redmine:redmine files log tmp public/plugin_assets sqlite config plugins db \
			2>/dev/null || :
		docker_exec_as redmine "$@"
	fi

	if [[ ! -f config/database.yml ]]; then
		write_database_yml
	fi

	# the key that signs sessions: from the environment, else one made on first start
	file_env REDMINE_SECRET_KEY_BASE
	if [[ -n $REDMINE_SECRET_KEY_BASE ]]; then
		printf '%s:\n  secret_key_base: %s\n' "$RAILS_ENV" "$(yaml_string "$REDMINE_SECRET_KEY_BASE")" >config/secrets.yml
	elif [[ ! -f config/initializers/secret_token.rb && ! -f config/secrets.yml ]]; then
		docker_note "generating a secret token"
		rake generate_secret_token
	fi

	if [[ $1 != rake && -z ${REDMINE_NO_DB_MIGRATE:-} ]]; then
		docker_note "migrating the database"
		migrate
	fi
	if [[ $1 != rake && -n ${REDMINE_PLUGINS_MIGRATE:-} ]]; then
		rake redmine:plugins:migrate
	fi
	# a pid file left by a killed server would keep `rails server` from starting
	rm -f tmp/pids/server.pid
	exec "$@"
}

_main "$@"
