#!/usr/bin/env bash
# Health checks for dockyard's mysql/mariadb stand-in, for HEALTHCHECK / compose:
#   healthcheck.sh --connect --innodb_initialized
# Each test runs in the order given; the first failing one makes the exit status 1.
# It logs in as the `healthcheck` user that initialisation created, whose password is in
# <datadir>/.my-healthcheck.cnf.
#
#   --connect                   the server accepts TCP connections (not the temporary
#                               server of the initialisation, which has no networking)
#   --innodb_initialized        InnoDB is up
#   --innodb_buffer_pool_loaded the buffer pool dump (if any) was loaded at startup
#   --galera_online             the Galera node is synced (never, here: no cluster)
#   --mariadbupgrade            the data directory needs no mariadb-upgrade
#   --su-mysql / --su=USER      run the checks as `mysql` / USER
#   --datadir=DIR               where .my-healthcheck.cnf is (/var/lib/mysql)
#   --no-defaults, --defaults-file=F, --defaults-extra-file=F
#                               client option files to use instead
set -eo pipefail

datadir=/var/lib/mysql
defaults=()
tests=()
run_as=

for arg; do
	case $arg in
		--su-mysql) run_as=mysql ;;
		--su=*) run_as=${arg#--su=} ;;
		--datadir=*) datadir=${arg#--datadir=} ;;
		--no-defaults | --defaults-file=* | --defaults-extra-file=*) defaults=("$arg") ;;
		--connect | --innodb_initialized | --innodb_buffer_pool_loaded | --galera_online | --mariadbupgrade)
			tests+=("${arg#--}") ;;
		*)
			echo "healthcheck.sh: unknown option $arg" >&2
			exit 1
			;;
	esac
done

if [[ -n $run_as && $(id -un) != "$run_as" ]]; then
	exec gosu "$run_as" "${BASH_SOURCE[0]}" "$@"
fi
if [[ ${#defaults[@]} == 0 && -r $datadir/.my-healthcheck.cnf ]]; then
	defaults=(--defaults-extra-file="$datadir/.my-healthcheck.cnf")
fi

query() {
	mariadb "${defaults[@]}" --batch --skip-column-names "$@"
}

connect() {
	# over TCP so that the initialisation's socket-only server does not count
	if query --protocol=tcp --host=127.0.0.1 -e 'SELECT 1' >/dev/null 2>&1; then
		return 0
	fi
	# a server that refuses our login is still up and answering
	local out
	out=$(query --protocol=tcp --host=127.0.0.1 -e 'SELECT 1' 2>&1) || true
	[[ $out == *"Access denied"* ]]
}

innodb_initialized() {
	[[ $(query -e "SELECT 1 FROM information_schema.ENGINES
		WHERE engine = 'InnoDB' AND support IN ('YES', 'DEFAULT', 'ENABLED')") == 1 ]]
}

innodb_buffer_pool_loaded() {
	local status
	status=$(query -e "SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_load_status'" | cut -f2)
	# done, or nothing to load (no dump file from an earlier shutdown)
	case $status in
		"Buffer pool(s) load completed"* | "Cannot open "* | "Loading of buffer pool not started" | "") return 0 ;;
	esac
	return 1
}

galera_online() {
	[[ $(query -e "SHOW GLOBAL STATUS LIKE 'wsrep_local_state'" | cut -f2) == 4 ]]
}

mariadbupgrade() {
	local server stored
	server=$(mariadbd --version | awk '{print $3}')
	stored=$(cat "$datadir/mysql_upgrade_info" 2>/dev/null || true)
	[[ -z $stored || ${stored%%-*} == "${server%%-*}" ]]
}

for test in "${tests[@]}"; do
	if ! "$test"; then
		echo "healthcheck $test failed" >&2
		exit 1
	fi
done
exit 0
