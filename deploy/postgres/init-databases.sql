-- One database per service: no service reads another's tables (docs: DESIGN.md, "Shape").
-- The postgres image runs this once, as POSTGRES_USER, on an empty data directory
-- (mounted into /docker-entrypoint-initdb.d by docker-compose.yml). Each service's alembic
-- history creates its tables: `pain-review migrate` (the compose `migrate` one-shot).
CREATE DATABASE referral;
CREATE DATABASE careplan;
CREATE DATABASE medreview;
CREATE DATABASE gpconnect;
