"""No confused deputy: what a pipeline or suite may make the operator do on its author's behalf. Pure.

The operator holds more power than a pipeline author (it reads Secrets, creates pods under
ServiceAccounts, talks to Kafka Connect). Operator-level allowlists (chart values -> DATAOPS_ALLOWED_*)
bound the images, ServiceAccounts, Kafka Connect URLs and Kafka bootstrap servers a resource may
name; a fixed denylist keeps identity and security settings out of ``sparkConf``. An unset field
resolves to the operator's own default and is always allowed; an empty allowlist allows only that
default.

Patterns are globs of our own, not fnmatch: ``*`` matches any run of characters except ``/``,
``**`` also crosses ``/``, ``?`` one character except ``/``; every other character (``[``, ``]``
included) is literal and the whole value must match. Values are never trimmed or repaired before
matching: one that carries whitespace, control characters or anything outside its grammar is refused.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from dataops.api.v1alpha1.datapipeline import DataPipelineSpec
from dataops.api.v1alpha1.dataqualitysuite import DataQualitySuiteSpec

# sparkConf keys that change who the run is, what it may reach or how it is secured (redaction too: it
# keeps the masking key out of plans, the UI and event logs). Matched
# case-insensitively against the whole key (Spark's own keys are case-sensitive, but refusing a
# differently-cased spelling costs nothing). The chart's ValidatingAdmissionPolicy carries the same
# expression (charts/dataops-operator/templates/deputy-admission.yaml; a test keeps them equal).
SPARK_CONF_DENYLIST = (
    r"spark\.master"
    r"|spark\.submit\..*"
    r"|spark\.kubernetes\.(driver\.)?master"
    r"|spark\.kubernetes\.namespace"
    r"|spark\.kubernetes\.context"
    r"|spark\.kubernetes\.authenticate(\..*)?"
    r"|spark\.kubernetes\.trust\.certificates"
    r"|spark\.kubernetes\.submitindriver"
    r"|spark\.kubernetes\.(driver|executor)\.(podtemplatefile|podtemplatecontainername|pod\.name)"
    r"|spark\.kubernetes\.(driver|executor)\.pod\.featuresteps"
    r"|spark\.kubernetes\.((driver|executor)\.)?container\.image(\..*)?"
    r"|spark\.kubernetes\.(driver|executor)\.(secrets|secretkeyref)\..*"
    r"|spark\.kubernetes\.(driver|executor)\.volumes\.(hostpath|nfs)\..*"
    r"|spark\.kubernetes\.(driver|executor)\.pod\.excludedfeaturesteps"
    r"|spark\.kubernetes\.hadoop\.configmapname"
    r"|spark\.kubernetes\.driverenv\..*"
    r"|spark\.executorenv\..*"
    r"|spark\.kubernetes\.kerberos\..*"
    r"|spark\.kerberos\..*"
    r"|spark\.authenticate(\..*)?"
    r"|spark\.network\.crypto\..*"
    r"|spark\.io\.encryption\..*"
    r"|spark\.ssl(\..*)?"
    r"|spark\.(driver|executor)\.extra(classpath|javaoptions|librarypath)"
    r"|spark\.jars(\..*)?"
    r"|spark\.(files|archives|pyfiles)"
    r"|spark\.(sql\.)?redaction\..*"
)
_DENIED_KEY = re.compile(SPARK_CONF_DENYLIST)
# A key Spark could read: letters, digits and . _ - / (label and annotation keys carry /).
_SPARK_KEY = re.compile(r"[A-Za-z0-9._/-]+")
_IMAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@-]*")
_SERVICE_ACCOUNT = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
_URL_CHARS = re.compile(r"[A-Za-z0-9._:/\[\]-]+")
_HOST_PORT = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9._-]+):[0-9]{1,5}")


@dataclass(frozen=True)
class Allowlists:
    """What the operator lets resources name beyond its own defaults (Settings -> RunConfig)."""

    images: tuple[str, ...] = ()
    service_accounts: tuple[str, ...] = ()
    connect_urls: tuple[str, ...] = ()
    kafka_bootstrap: tuple[str, ...] = ()
    default_images: tuple[str, ...] = ()
    default_connect_url: str | None = None
    default_kafka_bootstrap: str | None = None


@dataclass(frozen=True)
class Forbidden:
    """One field the operator refuses to act on."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class _Findings:
    items: list[Forbidden] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.items.append(Forbidden(path, message))


def parse_patterns(value: str | None) -> tuple[str, ...]:
    """A comma-separated setting -> patterns (blank entries dropped; entries trimmed)."""
    return tuple(p.strip() for p in (value or "").split(",") if p.strip())


@lru_cache(maxsize=512)
def _glob(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            parts.append(".*")
            i += 2
        elif pattern[i] == "*":
            parts.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            parts.append("[^/]")
            i += 1
        else:
            parts.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(parts), re.DOTALL)


def glob_match(value: str, patterns: Iterable[str]) -> bool:
    return any(_glob(p).fullmatch(value) is not None for p in patterns)


def _quote(value: str) -> str:
    return repr(value[:200])


# -- images -------------------------------------------------------------------------------------


def image_problem(image: str, allow: Allowlists) -> str | None:
    if image in allow.default_images:
        return None
    if _IMAGE.fullmatch(image) is None or any(seg in ("", ".", "..") for seg in image.split("/")):
        return f"image {_quote(image)} is not a valid image reference"
    if glob_match(image, allow.images):
        return None
    return f"image {_quote(image)} is not allowed by the operator (allowedImages)"


# -- ServiceAccounts ----------------------------------------------------------------------------


def service_account_problem(name: str, namespace: str, allow: Allowlists) -> str | None:
    """Patterns with a ``/`` match ``<namespace>/<name>``, the others the bare name."""
    if _SERVICE_ACCOUNT.fullmatch(name) is None or len(name) > 253:
        return f"ServiceAccount {_quote(name)} is not a valid name"
    qualified = [p for p in allow.service_accounts if "/" in p]
    bare = [p for p in allow.service_accounts if "/" not in p]
    if glob_match(f"{namespace}/{name}", qualified) or glob_match(name, bare):
        return None
    return f"ServiceAccount {_quote(name)} is not allowed by the operator (allowedServiceAccounts)"


# -- Kafka Connect URLs -------------------------------------------------------------------------


def normalize_url(url: str) -> str | None:
    """scheme://host[:port][/path] with scheme and host in lower case, or None when the URL carries
    anything a client could read differently (userinfo, query, fragment, escapes, dot segments)."""
    if _URL_CHARS.fullmatch(url) is None:
        return None
    try:
        parts = urllib.parse.urlsplit(url)  # raises on unbalanced or non-IP brackets
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        return None
    path = parts.path.rstrip("/")
    if any(seg in (".", "..") for seg in path.split("/")) or "//" in path:
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"


def connect_url_problem(url: str, allow: Allowlists) -> str | None:
    normalized = normalize_url(url)
    if normalized is None:
        return f"Kafka Connect URL {_quote(url)} is not a plain http(s)://host[:port][/path] URL"
    defaults = [u for u in (allow.default_connect_url,) if u]
    if normalized in {normalize_url(u) for u in defaults}:
        return None
    if glob_match(normalized, [p.lower().rstrip("/") for p in allow.connect_urls]):
        return None
    return f"Kafka Connect URL {_quote(url)} is not allowed by the operator (allowedConnectUrls)"


# -- Kafka bootstrap servers --------------------------------------------------------------------


def bootstrap_entries(value: str) -> list[str] | None:
    """host:port entries in lower case (blanks around commas are what Kafka clients trim too), or
    None when an entry is empty or not host:port."""
    entries = [e.strip().lower() for e in value.split(",")]
    if any(_HOST_PORT.fullmatch(e) is None for e in entries):
        return None
    return entries


def bootstrap_problem(value: str, allow: Allowlists) -> str | None:
    entries = bootstrap_entries(value)
    if entries is None:
        return f"bootstrap servers {_quote(value)} are not a host:port list"
    defaults = set(bootstrap_entries(allow.default_kafka_bootstrap or "") or [])
    patterns = [p.lower() for p in allow.kafka_bootstrap]
    refused = [e for e in entries if e not in defaults and not glob_match(e, patterns)]
    if refused:
        return f"bootstrap server(s) {', '.join(refused)} not allowed by the operator (allowedKafkaBootstrap)"
    return None


# -- sparkConf ----------------------------------------------------------------------------------


def spark_conf_problem(key: str, value: str) -> str | None:
    if _SPARK_KEY.fullmatch(key) is None:
        return f"sparkConf key {_quote(key)} has characters outside letters, digits and . _ - /"
    if _DENIED_KEY.fullmatch(key.lower()) is not None:
        return f"sparkConf key {key!r} is reserved by the operator (identity, security or code loading)"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return f"sparkConf {key!r} has a control character in its value"
    return None


# -- whole resources ----------------------------------------------------------------------------


def pipeline_forbidden(spec: DataPipelineSpec, allow: Allowlists) -> list[Forbidden]:
    found = _Findings()
    if spec.spark.image is not None and (problem := image_problem(spec.spark.image, allow)):
        found.add("spec.spark.image", problem)
    for key in sorted(spec.spark.spark_conf):
        if problem := spark_conf_problem(key, spec.spark.spark_conf[key]):
            found.add(f"spec.spark.sparkConf[{key[:100]!r}]", problem)
    for i, source in enumerate(spec.sources):
        connector = source.connector
        url = connector.connect_url if connector is not None else None
        if url is not None and (problem := connect_url_problem(url, allow)):
            found.add(f"spec.sources[{i}].connector.connectUrl", problem)
        kafka = source.kafka
        bootstrap = kafka.bootstrap_servers if kafka is not None else None
        if bootstrap is not None and (problem := bootstrap_problem(bootstrap, allow)):
            found.add(f"spec.sources[{i}].kafka.bootstrapServers", problem)
    return found.items


def suite_forbidden(spec: DataQualitySuiteSpec, namespace: str, allow: Allowlists) -> list[Forbidden]:
    found = _Findings()
    validator = spec.validator
    if validator.image is not None and (problem := image_problem(validator.image, allow)):
        found.add("spec.validator.image", problem)
    account = validator.service_account_name
    if account is not None and (problem := service_account_problem(account, namespace, allow)):
        found.add("spec.validator.serviceAccountName", problem)
    return found.items
