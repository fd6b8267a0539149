"""Kafka topics a pipeline declares, and what to change on the broker to match them. Pure.

Creating topics and raising partition counts are safe; lowering a partition count is impossible in
Kafka and is refused with a message (the topic is left as it is). Only topics this pipeline created
are ever deleted, and only when the pipeline is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dataops.api.v1alpha1.datapipeline import DataPipelineSpec, PipelineMode, TopicStatus

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class DesiredTopic:
    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str]
    managed: bool


@dataclass(frozen=True)
class ExistingTopic:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


@dataclass
class TopicPlan:
    create: list[DesiredTopic] = field(default_factory=list)
    add_partitions: dict[str, int] = field(default_factory=dict)
    alter_config: dict[str, dict[str, str]] = field(default_factory=dict)
    statuses: list[TopicStatus] = field(default_factory=list)

    @property
    def changes(self) -> bool:
        return bool(self.create or self.add_partitions or self.alter_config)


def dead_letter_topic(spec: DataPipelineSpec) -> str | None:
    if spec.mode != PipelineMode.STREAMING:
        return None
    if spec.streaming is not None and spec.streaming.dead_letter_topic:
        return spec.streaming.dead_letter_topic
    first = next((s.kafka for s in spec.sources if s.kafka is not None), None)
    return f"{first.topic}{DLQ_SUFFIX}" if first is not None else None


def desired_topics(spec: DataPipelineSpec) -> list[DesiredTopic]:
    """Kafka sources' topics, plus the dead-letter topic of a Streaming pipeline (managed)."""
    topics: dict[str, DesiredTopic] = {}
    for source in spec.sources:
        kafka = source.kafka
        if kafka is not None and kafka.topic not in topics:
            topics[kafka.topic] = DesiredTopic(
                kafka.topic,
                kafka.partitions,
                kafka.replication_factor,
                dict(kafka.config),
                kafka.managed,
            )
    dlq = dead_letter_topic(spec)
    if dlq is not None and dlq not in topics:
        first = next(s.kafka for s in spec.sources if s.kafka is not None)
        topics[dlq] = DesiredTopic(dlq, 1, first.replication_factor, {}, True)
    return list(topics.values())


def plan_topics(
    desired: list[DesiredTopic], existing: dict[str, ExistingTopic], previous: list[TopicStatus]
) -> TopicPlan:
    owned_before = {t.name for t in previous if t.owned}
    plan = TopicPlan()
    for topic in desired:
        found = existing.get(topic.name)
        owned = topic.name in owned_before
        if found is None:
            if topic.managed:
                plan.create.append(topic)
                plan.statuses.append(
                    TopicStatus(
                        name=topic.name,
                        partitions=topic.partitions,
                        ready=True,
                        owned=True,
                        message="created",
                    )
                )
            else:
                plan.statuses.append(
                    TopicStatus(name=topic.name, ready=False, message="topic does not exist (managed: false)")
                )
            continue
        message = ""
        ready = True
        partitions = found.partitions
        if topic.managed and topic.partitions > found.partitions:
            plan.add_partitions[topic.name] = topic.partitions
            partitions = topic.partitions
            message = f"partitions raised from {found.partitions} to {topic.partitions}"
        elif topic.managed and topic.partitions < found.partitions:
            ready = False
            message = (
                f"cannot lower partitions from {found.partitions} to {topic.partitions}: Kafka only adds "
                "partitions; recreate the topic or raise spec partitions"
            )
        changed = {k: v for k, v in topic.config.items() if found.config.get(k) != v}
        if topic.managed and changed:
            plan.alter_config[topic.name] = changed
            message = "; ".join(filter(None, [message, "config updated: " + ", ".join(sorted(changed))]))
        plan.statuses.append(
            TopicStatus(name=topic.name, partitions=partitions, ready=ready, owned=owned, message=message)
        )
    return plan


def owned_topics(statuses: list[TopicStatus]) -> list[str]:
    return [t.name for t in statuses if t.owned]
