# ruff: noqa: E501  (the HTML template keeps its natural line lengths)
"""The HTML report of one validation: a self-contained page (no scripts, no external assets)."""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment, select_autoescape

from dataops.api.v1alpha1.dataqualitysuite import ValidationResult
from dataops.quality.results import ExpectationOutcome

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ suite }} · {{ result.run_id }} · {{ "PASSED" if result.success else "FAILED" }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;width:100%;margin:1rem 0}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}
th{background:#f3f3f3}.ok{color:#17692c}.bad{color:#a4161a;font-weight:600}.warn{color:#9a6700}
.verdict{font-size:1.4rem}code{font-size:.85rem}
</style></head><body>
<h1>Data quality: {{ suite }}</h1>
<p class="verdict {{ 'ok' if result.success else 'bad' }}">{{ "PASSED" if result.success else "FAILED" }}:
 {{ result.evaluated - result.failed }} of {{ result.evaluated }} checks passed ({{ "%.1f"|format(result.success_percent) }}%)</p>
<table>
<tr><th>namespace</th><td>{{ namespace }}</td></tr>
<tr><th>dataset</th><td><code>{{ dataset }}</code></td></tr>
<tr><th>run</th><td>{{ result.run_id }}</td></tr>
<tr><th>time</th><td>{{ result.time }}</td></tr>
<tr><th>duration</th><td>{{ "%.2f"|format(result.duration_seconds or 0) }} s</td></tr>
{% if result.metrics %}<tr><th>rows</th><td>{{ "{:,}".format(result.metrics.row_count) }}</td></tr>{% endif %}
{% if result.error %}<tr><th>error</th><td class="bad">{{ result.error }}</td></tr>{% endif %}
</table>
<h2>Checks</h2>
<table>
<tr><th>#</th><th>check</th><th>column</th><th>severity</th><th>result</th><th>observed</th><th>unexpected</th><th>sample of unexpected values</th></tr>
{% for o in outcomes %}
<tr>
<td>{{ loop.index }}</td><td><code>{{ o.type }}</code></td><td>{{ o.column or "" }}</td><td>{{ o.severity }}</td>
<td class="{{ 'ok' if o.success else ('bad' if o.severity == 'error' else 'warn') }}">{{ "passed" if o.success else "failed" }}</td>
<td>{{ show(o.observed_value) }}</td>
<td>{% if o.unexpected_count is not none %}{{ o.unexpected_count }} ({{ "%.2f"|format(o.unexpected_percent or 0) }}%){% endif %}</td>
<td>{{ o.unexpected_sample[:20]|map("string")|join(", ") }}</td>
</tr>
{% endfor %}
</table>
{% if result.metrics and result.metrics.columns %}
<h2>Schema</h2><p><code>{{ result.metrics.columns|join(", ") }}</code></p>
{% endif %}
</body></html>
"""

_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))


def _show(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def render_html(
    *, suite: str, namespace: str, dataset: str, result: ValidationResult, outcomes: list[ExpectationOutcome]
) -> str:
    return _ENV.from_string(_TEMPLATE).render(
        suite=suite, namespace=namespace, dataset=dataset, result=result, outcomes=outcomes, show=_show
    )
