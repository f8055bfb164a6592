-- Runs once, when docker-entrypoint initialises an empty data directory.
-- The logsys role has no password: it can only log in with a dev client
-- certificate (pg_hba.conf, pg_ident.conf). The store's migrations create
-- the tables as this role.
CREATE ROLE logsys LOGIN;
CREATE DATABASE logsys OWNER logsys;
REVOKE ALL ON DATABASE logsys FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE logsys TO logsys;
