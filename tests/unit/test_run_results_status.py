"""What the driver's summary (termination message) reports about merges, malformed input and kept
quarantine becomes the run record's status fields; what does not parse is left out, not fatal."""

from __future__ import annotations

import json

from dataops.api.v1alpha1.datapipeline import MalformedPolicy
from dataops.plan.scheduling import _malformed, _merged, _quarantined


def test_results_of_the_summary_become_status_records() -> None:
    message = json.dumps(
        {
            "merged": {
                "customers": {"inserted": 3, "updated": 2, "superseded": 1, "tableRows": 40},
                "broken": {"inserted": -1, "updated": 0},
            },
            "malformed": {"orders": {"policy": "Quarantine", "rows": 4, "quarantine": "/q/r1"}, "x": "nope"},
            "quarantined": [
                {"sink": "lake", "path": "/lake.__staging/r0", "since": "2026-11-20T10:00:00+00:00"},
                7,
            ],
        }
    )
    (merged,) = _merged(message)
    assert (merged.sink, merged.inserted, merged.updated, merged.superseded, merged.table_rows) == (
        "customers",
        3,
        2,
        1,
        40,
    )
    (malformed,) = _malformed(message)
    assert (malformed.source, malformed.policy, malformed.rows) == ("orders", MalformedPolicy.QUARANTINE, 4)
    (kept,) = _quarantined(message)
    assert kept.path == "/lake.__staging/r0" and kept.since.year == 2026
    assert _merged("not json") == [] and _malformed("{}") == [] and _quarantined("[]") == []
