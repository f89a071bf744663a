-- Run by the official postgres image on first start (an empty data volume), as POSTGRES_USER: one database
-- per extracted service, and the shadow comparator's. docker-compose.yml mounts this folder on
-- /docker-entrypoint-initdb.d; an existing volume keeps its databases (`docker compose down -v` starts over).
CREATE DATABASE product;
CREATE DATABASE auth;
CREATE DATABASE shadow;
