-- Run once by the postgres image on an empty volume: one database per server (POSTGRES_DB creates `prefect`).
CREATE DATABASE mlflow;
