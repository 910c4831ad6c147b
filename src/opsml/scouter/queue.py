"""Queues that ship served features and metrics to Scouter (OpsML 3's
``opsml.scouter.queue``, from scouter-ml)."""

from opsml._compat import scouter_required

with scouter_required():
    from scouter.queue import (
        CustomMetricServerRecord,
        EntityType,
        Feature,
        Features,
        KafkaConfig,
        LLMRecord,
        Metric,
        Metrics,
        PsiServerRecord,
        Queue,
        RabbitMQConfig,
        RecordType,
        RedisConfig,
        ScouterQueue,
        ServerRecord,
        ServerRecords,
        SpcServerRecord,
    )

__all__ = [
    "CustomMetricServerRecord",
    "EntityType",
    "Feature",
    "Features",
    "KafkaConfig",
    "LLMRecord",
    "Metric",
    "Metrics",
    "PsiServerRecord",
    "Queue",
    "RabbitMQConfig",
    "RecordType",
    "RedisConfig",
    "ScouterQueue",
    "ServerRecord",
    "ServerRecords",
    "SpcServerRecord",
]
