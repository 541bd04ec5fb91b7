"""Ditto's Kafka connectivity stood in by the embedded twin service, configured by a Ditto connection."""

from __future__ import annotations

from centinela.twin.connectivity.config import Connection, Source, Target, load_connection
from centinela.twin.connectivity.kafka import KafkaConnectivity

__all__ = ["Connection", "KafkaConnectivity", "Source", "Target", "load_connection"]
