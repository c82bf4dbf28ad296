# Sourced by .ci/run: a real local PostgreSQL server for the ledger tests.
# Installs it (Debian packages) when missing, starts the cluster, creates the test role
# and database, and exports REALYIELD_TEST_POSTGRES_URL. Idempotent and quiet.
# Without root (a developer machine) it only says why the PostgreSQL tests will skip.
if [ "$(id -u)" != 0 ] && ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "postgres.sh: not root and PostgreSQL not installed: the PostgreSQL leg will skip" >&2
  return 0 2>/dev/null || exit 0
fi
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
_pg_ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | awk '{print $2}' | grep -qx main; then
  pg_createcluster "$_pg_ver" main >/dev/null
fi
if ! pg_lsclusters -h | awk '$2 == "main" {print $4}' | grep -qx online; then
  pg_ctlcluster "$_pg_ver" main start
fi
_pg_sql() { su postgres -c "psql -qtAX -c \"$1\""; }
if [ "$(_pg_sql "SELECT 1 FROM pg_roles WHERE rolname = 'realyield'")" != 1 ]; then
  _pg_sql "CREATE ROLE realyield LOGIN PASSWORD 'realyield'" >/dev/null
fi
if [ "$(_pg_sql "SELECT 1 FROM pg_database WHERE datname = 'realyield_test'")" != 1 ]; then
  su postgres -c "createdb -O realyield realyield_test"
fi
_pg_port=$(pg_lsclusters -h | awk '$2 == "main" {print $3}')
export REALYIELD_TEST_POSTGRES_URL="postgresql+psycopg://realyield:realyield@127.0.0.1:${_pg_port}/realyield_test"
unset -f _pg_sql
unset _pg_ver _pg_port
