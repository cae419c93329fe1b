"""docker-compose.yml and the Dockerfile agree with the code: services, settings, packages."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests.docs.test_docs import settings_read
from tidings.api.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = ("migrate", "api", "worker")


def settings_names() -> set[str]:
    """Every TIDINGS_* name the code reads: the service's settings and the built-in
    providers' (which read their own from the raw settings)."""
    return set(settings_read())


def environment(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment", {})
    if isinstance(env, list):  # the "KEY=value" form
        env = dict(item.partition("=")[::2] for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def test_services_exist():
    assert {"postgres", "redis", "migrate", "api"} <= set(SERVICES)


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_run_in_production_against_postgres_and_redis(service):
    env = environment(service)
    assert env["TIDINGS_ENV"] == "production"
    database = urlsplit(env["TIDINGS_DATABASE_URL"])
    assert database.scheme in ("postgres", "postgresql")
    assert database.hostname == "postgres"
    redis = urlsplit(env["TIDINGS_REDIS_URL"])
    assert redis.scheme == "redis"
    assert redis.hostname == "redis"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_secret_key_is_required_not_defaulted(service):
    """`${VAR:?message}` makes compose refuse to start without it; a default would not."""
    value = environment(service)["TIDINGS_SECRET_KEY"]
    assert re.fullmatch(r"\$\{TIDINGS_SECRET_KEY:\?[^}]+\}", value), value


# What a user would give for each `${VAR:?...}` compose requires.
REQUIRED_SAMPLES = {
    "TIDINGS_SECRET_KEY": "k" * 48,
    "TIDINGS_PUBLIC_URL": "https://notify.shop.example",
    "TIDINGS_DATA_KEYS": "k1:" + "a" * 43 + "=",
    "TIDINGS_BLIND_INDEX_KEY": "b" * 43 + "=",
}


def interpolated(value: str) -> str:
    """Compose's interpolation: `${VAR:?msg}` takes the sample a user must give, `${VAR:-d}`
    its default."""

    def one(match: re.Match[str]) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3)
        if op == ":?":
            assert name in REQUIRED_SAMPLES, f"compose requires {name}: add a sample here"
            return REQUIRED_SAMPLES[name]
        return rest

    return re.sub(r"\$\{([A-Z0-9_]+)(:\?|:-)([^}]*)\}", one, value)


@pytest.mark.parametrize("service", APP_SERVICES)
def test_settings_load_from_compose_once_its_required_values_are_given(service):
    """Every setting production requires is one compose asks for: the service starts."""
    env = {key: interpolated(value) for key, value in environment(service).items()}
    settings = Settings.load(env, env_file=None)
    assert settings.env == "production"
    assert settings.public_url == REQUIRED_SAMPLES["TIDINGS_PUBLIC_URL"]
    assert settings.unsubscribe_mailto is None


@pytest.mark.parametrize("service", APP_SERVICES)
def test_public_url_is_required_not_defaulted(service):
    value = environment(service)["TIDINGS_PUBLIC_URL"]
    assert re.fullmatch(r"\$\{TIDINGS_PUBLIC_URL:\?[^}]+\}", value), value


def test_every_setting_compose_names_is_one_the_settings_read():
    known = settings_names()
    assert "TIDINGS_DATABASE_URL" in known  # the scan itself works
    named = set()
    for service in SERVICES:
        named |= {key for key in environment(service) if key.startswith("TIDINGS_")}
    text = (ROOT / "docker-compose.yml").read_text()
    named |= set(re.findall(r"\$\{(TIDINGS_[A-Z0-9_]+)", text))
    assert named, "compose names no TIDINGS_ settings"
    assert named <= known, f"compose sets settings the code never reads: {named - known}"


def test_api_starts_after_migrate_completes():
    depends = SERVICES["api"]["depends_on"]
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert SERVICES["migrate"]["command"] == ["tidings", "migrate"]
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "healthcheck" in SERVICES["postgres"]


def test_dockerfile_copies_every_packaged_folder():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    folders = set(pyproject["tool"]["setuptools"]["package-dir"].values())
    assert {"api", "core", "schema", "plugins", "providers"} <= folders
    copied = set()
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        parts = line.split()
        if parts and parts[0].upper() == "COPY" and not any(p.startswith("--") for p in parts):
            copied.update(part.rstrip("/") for part in parts[1:-1])
    missing = folders - copied
    assert not missing, f"the Dockerfile does not COPY {sorted(missing)}"
    assert {"pyproject.toml", "README.md"} <= copied  # pip install . needs both


# Operations: health checks that test something real, shutdown within the grace period.


def seconds(value: str) -> float:
    """A compose duration ("40s", "1m30s") in seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", value)
    assert parts and "".join(n + u for n, u in parts) == value, value
    return sum(float(n) / 1000 if u == "ms" else float(n) * units[u] for n, u in parts)


def test_the_api_is_healthy_when_ready():
    check = SERVICES["api"]["healthcheck"]["test"]
    assert any("/readyz" in part for part in check), check


def test_the_worker_is_healthy_while_its_rounds_beat():
    worker = SERVICES["worker"]
    assert worker["command"] == ["tidings", "worker"]
    assert worker["deploy"]["replicas"] == 2
    check = worker["healthcheck"]["test"]
    assert check[:3] == ["CMD", "tidings", "worker-health"], check
    env = environment("worker")
    assert env["TIDINGS_WORKER_HEARTBEAT_FILE"].startswith("/")
    # The command the check runs exists, with the flags it is given.
    from tidings.api.cli import build_parser

    parsed = build_parser().parse_args(check[2:])
    assert parsed.command == "worker-health"
    # A heartbeat older than the check's age means rounds stopped: it must allow a round
    # that renews its lease (half a lease) a few times over.
    lease = Settings.load(
        {**{k: interpolated(v) for k, v in env.items()}, "TIDINGS_SECRET_KEY": "k" * 48},
        env_file=None,
    ).worker_lease_seconds
    assert seconds(parsed.max_age) >= lease


@pytest.mark.parametrize("service", ["api", "worker"])
def test_the_grace_period_outlasts_the_shutdown_deadline(service):
    env = {key: interpolated(value) for key, value in environment(service).items()}
    settings = Settings.load(env, env_file=None)
    grace = seconds(SERVICES[service]["stop_grace_period"])
    assert grace > settings.shutdown_seconds + 5, (grace, settings.shutdown_seconds)
