"""`KafkaTuning.from_url`: producer and consumer settings from a `kafka://` URL's query."""

from __future__ import annotations

import pytest

from centinela.errors import ConfigError
from centinela.infra.kafka_tuning import KafkaTuning


def test_query_sets_the_named_fields_and_keeps_the_others() -> None:
    base = KafkaTuning(fetch_max_wait_ms=20)
    tuning = KafkaTuning.from_url("kafka://h:9092?partitions=4&linger_ms=0&fetch_min_bytes=512", base)
    assert tuning.linger_ms == 0
    assert tuning.fetch_min_bytes == 512
    assert tuning.fetch_max_wait_ms == 20  # from base
    assert tuning.max_batch_size == KafkaTuning().max_batch_size
    assert KafkaTuning.from_url("kafka://h:9092") == KafkaTuning()


@pytest.mark.parametrize("query", ["linger_ms=-1", "fetch_max_wait_ms=0", "max_batch_size=big"])
def test_bad_values_are_config_errors_naming_the_setting(query: str) -> None:
    name = query.split("=")[0]
    with pytest.raises(ConfigError, match=name):
        KafkaTuning.from_url(f"kafka://h:9092?{query}")
