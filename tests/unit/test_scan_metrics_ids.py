"""Executions are found by id, not by position: Spark's status store keeps only the newest 1000, so
in a long session (a streaming driver, the test suite) positions stop growing while ids go on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dataops.runtime.scan_metrics import _execution_ids_since, execution_count


@dataclass
class _Execution:
    id: int

    def executionId(self) -> int:
        return self.id


class _Seq:
    def __init__(self, items: list[_Execution]) -> None:
        self.items = items

    def size(self) -> int:
        return len(self.items)

    def apply(self, i: int) -> _Execution:
        return self.items[i]


class _Store:
    """SQLAppStatusStore as py4j shows it, retaining the newest ``retained`` executions."""

    def __init__(self, executed: int, retained: int = 1000) -> None:
        self.ids = list(range(executed))[-retained:]

    def executionsCount(self) -> int:
        return len(self.ids)

    def executionsList(self, offset: int, length: int) -> _Seq:
        return _Seq([_Execution(i) for i in self.ids[offset : offset + length]])


class _Spark:
    def __init__(self, store: _Store) -> None:
        self._jsparkSession: Any = type(
            "J", (), {"sharedState": lambda _self: type("S", (), {"statusStore": lambda _s: store})()}
        )()


def test_ids_since_a_mark_past_the_retention_limit() -> None:
    store = _Store(executed=5_000)
    mark = execution_count(_Spark(store))  # type: ignore[arg-type]
    assert mark == 5_000
    store.ids = list(range(4_130, 5_130))
    assert _execution_ids_since(store, mark) == list(range(5_000, 5_130))
    assert _execution_ids_since(store, 5_130) == []


def test_an_empty_store_and_a_short_session() -> None:
    empty = _Store(executed=0)
    assert execution_count(_Spark(empty)) == 0  # type: ignore[arg-type]
    assert _execution_ids_since(_Store(executed=10), 0) == list(range(10))
    assert _execution_ids_since(_Store(executed=10), 7) == [7, 8, 9]
