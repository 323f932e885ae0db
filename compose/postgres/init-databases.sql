-- Run once by the postgres image on an empty volume (docker-entrypoint-initdb.d).
-- One database per service: each service owns its event store (and inbox/outbox).
CREATE DATABASE booking;
CREATE DATABASE inventory;
CREATE DATABASE payment;
CREATE DATABASE theatre;
CREATE DATABASE pricing;
CREATE DATABASE notifications;
