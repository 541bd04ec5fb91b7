"""Implementations of the ports: in-memory, SQLite, Kafka, PostgreSQL/TimescaleDB, Redis."""
