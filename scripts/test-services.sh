#!/usr/bin/env bash
# Start the services the tests talk to (PostgreSQL on loopback), run the command
# given, and stop what was started once the last concurrent run has finished.
set -uo pipefail
state=/tmp/thuvien-test-services
exec 9>"$state.lock"
ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)

flock 9
users=$(cat "$state.users" 2>/dev/null || echo 0)
if [ -n "$ver" ]; then
    if ! pg_lsclusters -h 2>/dev/null | grep -q online; then
        # Room for several test runs at once: each hub test holds a pool of connections.
        pg_conftool "$ver" main set max_connections 300 2>/dev/null
        pg_ctlcluster --skip-systemctl-redirect "$ver" main start && touch "$state.started"
    fi
    su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='thuvien'\"" | grep -q 1 ||
        su postgres -c "psql -qc \"CREATE ROLE thuvien LOGIN SUPERUSER PASSWORD 'thuvien'\""
    su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='thuvien_test'\"" | grep -q 1 ||
        su postgres -c "createdb -O thuvien thuvien_test"
    # The tests prove what the hub does, not the disk's durability: a commit need not wait
    # for its WAL to reach the disk (a crash of this server loses the last commits, never
    # consistency). About 1 ms less a commit, and the hub's tests commit by the thousand.
    su postgres -c "psql -qc \"ALTER DATABASE thuvien_test SET synchronous_commit = off\""
    export THUVIEN_TEST_PG="postgresql://thuvien:thuvien@127.0.0.1:5432/thuvien_test"
fi
echo $((users + 1)) > "$state.users"
flock -u 9

"$@"
rc=$?

flock 9
users=$(( $(cat "$state.users" 2>/dev/null || echo 1) - 1 ))
echo "$users" > "$state.users"
if [ "$users" -le 0 ] && [ -e "$state.started" ] && [ -n "$ver" ]; then
    pg_ctlcluster --skip-systemctl-redirect "$ver" main stop
    rm -f "$state.started"
fi
flock -u 9
exit $rc
