#!/usr/bin/env bash
# Start the services the tests talk to (PostgreSQL on loopback), run the
# command given, and stop what this script started.
set -uo pipefail
started_pg=""
ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
if [ -n "$ver" ]; then
    if ! pg_lsclusters -h 2>/dev/null | grep -q online; then
        pg_ctlcluster --skip-systemctl-redirect "$ver" main start && started_pg=1
    fi
    su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='thuvien'\"" | grep -q 1 ||
        su postgres -c "psql -qc \"CREATE ROLE thuvien LOGIN SUPERUSER PASSWORD 'thuvien'\""
    su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='thuvien_test'\"" | grep -q 1 ||
        su postgres -c "createdb -O thuvien thuvien_test"
    export THUVIEN_TEST_PG="postgresql://thuvien:thuvien@127.0.0.1:5432/thuvien_test"
fi
"$@"
rc=$?
[ -n "$started_pg" ] && pg_ctlcluster --skip-systemctl-redirect "$ver" main stop
exit $rc
