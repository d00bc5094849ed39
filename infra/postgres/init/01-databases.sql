-- Run once by the postgres:16 image on an empty data volume (docker-entrypoint-initdb.d, as the superuser).
-- Same role and databases as scripts/postgres.sh: billing_app / billing_app owns one database per service.
SELECT 'CREATE ROLE billing_app LOGIN CREATEDB PASSWORD ''billing_app'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'billing_app') \gexec

SELECT format('CREATE DATABASE %I OWNER billing_app', name)
FROM unnest(ARRAY['contracts', 'billing', 'timetracking']) AS name
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = name) \gexec
