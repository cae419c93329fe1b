"""docs/metrics.md documents exactly the metrics the code serves, and the sample Grafana
dashboard is valid JSON whose every expression names only those metrics, and uses them all."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.metrics.test_live import REDIS_URL
from tidings.api.metrics import Metrics
from tidings.core.live import InProcessBus
from tidings.core.live.redis_bus import RedisBus

DOCS = Path(__file__).resolve().parents[2] / "docs"
DASHBOARD = DOCS / "grafana" / "tidings.json"
HISTOGRAM_SERIES = re.compile(r"_(bucket|count|sum)$")


def documented() -> dict[str, str]:
    """Metric → its type, from the tables of docs/metrics.md."""
    rows = {}
    for line in (DOCS / "metrics.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and re.fullmatch(r"`tidings_[a-z_]+`", cells[0]):
            rows[cells[0].strip("`")] = cells[1]
    return rows


async def served() -> dict[str, str]:
    """Metric → type, from real scrapes: a serving process's (the in-process bus answers its
    probe) and a Redis-bus process's (its reconnect count)."""
    families: dict[str, str] = {}
    redis_bus = RedisBus(REDIS_URL, listen=False)
    try:
        for bus in (InProcessBus(), redis_bus):
            answer = await Metrics(bus, probe_timeout=0.2).answer("GET", "/metrics", "", "")
            for match in re.finditer(r"^# TYPE (\S+) (\S+)$", answer.body.decode(), re.M):
                families[match.group(1)] = match.group(2)
    finally:
        await redis_bus.aclose()
    return families


async def test_every_served_metric_is_documented_with_its_type_and_nothing_else(db):
    assert await served() == documented()


def dashboard_metrics() -> set[str]:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    exprs.append(board["templating"]["list"][0]["query"]["query"])
    assert exprs
    return {HISTOGRAM_SERIES.sub("", n) for e in exprs for n in re.findall(r"tidings_\w+", e)}


def test_the_dashboard_uses_only_and_every_documented_metric():
    assert dashboard_metrics() == set(documented())


def test_the_dashboard_imports_with_a_prometheus_data_source():
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    [source] = board["__inputs"]
    assert (source["name"], source["pluginId"]) == ("DS_PROMETHEUS", "prometheus")
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}"
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
