#!/usr/bin/env bash
# Installs (Debian's package) and starts a local PostgreSQL for the store tests, with a
# `tripline` role and a `tripline_test` database; prints nothing but errors.
set -euo pipefail
if ! command -v pg_lsclusters >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >/dev/null
fi
read -r ver name _ < <(pg_lsclusters --no-header | head -1)
if [ -z "${ver:-}" ]; then
  ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
  name=main
  pg_createcluster "$ver" "$name" >/dev/null
fi
pg_ctlcluster "$ver" "$name" start 2>/dev/null || true
for _ in $(seq 1 30); do
  pg_isready -q && break
  sleep 1
done
su postgres -c "psql -q -v ON_ERROR_STOP=1" <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tripline') THEN
    CREATE ROLE tripline LOGIN PASSWORD 'tripline-test';
  END IF;
END $$;
SELECT 'CREATE DATABASE tripline_test OWNER tripline'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'tripline_test')\gexec
SQL
