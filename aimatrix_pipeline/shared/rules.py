"""Alert rules and notification channels, loaded from YAML and validated at load time.

Rules are data: thresholds, severities and routes live in `alert_rules.yaml`
(`AIMATRIX_ALERT_RULES` overrides the path), not in code. A rule has an id, title, message, metric, operator,
threshold, severity, channels and suppression window; a rule may instead name an existing asset check (`check:
"asset/key:check_name"`), which is how checks other domains own (the cost budget check) get a
title, a severity and routes. Every validation error names the file, the rule and the field, so a
typo never silently disables an alert.

Secrets are never in the file: a channel names the environment variables that hold its webhook
URL, routing key, signing secrets or SMTP password, and those are read through `dagster.EnvVar`
only when a notification is sent. A channel whose required variables are unset is *disabled*:
nothing is queued for it (docs/alerts.md lists which variables each channel needs).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aimatrix_pipeline.config_checks import (
    parse_yaml,
    read_text,
    require_bool,
    require_finite,
    require_int,
    require_list,
    require_str,
    require_str_list,
    shown,
)
from aimatrix_pipeline.settings import ConfigError, Settings, current_settings, secret_is_set
from aimatrix_pipeline.sql_files import shipped_path

# The repository's alert_rules.yaml: in the checkout, or inside the package when installed from a wheel.
DEFAULT_RULES_FILE = shipped_path("alert_rules.yaml")
OPERATORS = (">", "<", ">=", "<=", "==")
SEVERITIES = ("low", "medium", "high", "critical")
CHANNEL_TYPES = ("slack", "webhook", "pagerduty", "email")
_ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_ADDRESS_RE = re.compile(r"^[^\s<>,;]{1,320}$")
_SETTINGS_KEYS = ("fire_after", "suppression_window", "repeat_interval", "group_interval", "group_by",
                  "default_channels", "default_severity", "give_up_after", "backoff_base", "backoff_cap",
                  "timeout")
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
DAY = 86400.0
MAX_FIRE_AFTER = 1000  # consecutive failing evaluations; more would mean "never fires"
MAX_RATE_PER_SECOND = 1000.0
MAX_TIMEOUT_S = 600.0
MAX_TEXT = 4000  # title, message, description
# (lower bound, lower bound exclusive, upper bound) in seconds per duration setting
_DURATION_BOUNDS = {
    "suppression_window": (0.0, False, 30 * DAY),
    "repeat_interval": (0.0, True, 30 * DAY),
    "group_interval": (0.0, False, DAY),
    "give_up_after": (0.0, True, 30 * DAY),
    "backoff_base": (0.0, True, 3600.0),
    "backoff_cap": (0.0, True, DAY),
    "timeout": (0.0, True, MAX_TIMEOUT_S),
}
# Environment variables each channel type needs before it is enabled (keys of ChannelConfig.env).
_REQUIRED_ENV = {
    "slack": ("webhook_url_env",),
    "webhook": ("url_env", "secret_env"),
    "pagerduty": ("routing_key_env",),
    "email": ("host_env",),
}
_OPTIONAL_ENV = {
    "slack": (),
    "webhook": ("previous_secret_env",),
    "pagerduty": ("url_env",),
    "email": ("username_env", "password_env", "ca_file_env"),
}


def parse_duration(value: Any, where: str, lo: float = 0.0, hi: float = 30 * DAY,
                   lo_exclusive: bool = False) -> float:
    """Seconds from `300`, `"300s"`, `"5m"`, `"4h"`, `"250ms"`; finite and in range; errors name `where`."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"{where}: expected a duration such as 30s, 5m or 4h, got {shown(value)}")
    if isinstance(value, (int, float)):
        seconds = value
    else:
        m = _DURATION_RE.match(value)
        if not m:
            raise ConfigError(f"{where}: expected a duration such as 30s, 5m or 4h, got {shown(value)}")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and seconds < 0:
        raise ConfigError(f"{where}: duration must not be negative")
    return require_finite(seconds, f"{where}: duration (seconds)", lo, hi, lo_exclusive)


def _setting_duration(s: Mapping, key: str, default: str, path: str) -> float:
    lo, lo_exclusive, hi = _DURATION_BOUNDS[key]
    return parse_duration(s.get(key, default), f"{path}: settings field '{key}'", lo, hi, lo_exclusive)


@dataclass(frozen=True)
class ChannelConfig:
    """A notification channel, with env var names, never values."""

    name: str
    type: str
    env: Mapping[str, str] = field(default_factory=dict)  # e.g. {"webhook_url_env": "SLACK_URL"}
    options: Mapping[str, Any] = field(default_factory=dict)  # non-secret settings (port, to, ...)
    rate_per_second: float = 1.0
    send_resolved: bool = True

    def enabled(self, environ: Mapping[str, str] | None = None) -> bool:
        """All required secret variables are set (in `environ`, default the process environment)."""
        return all(secret_is_set(self.env[k], environ) for k in _REQUIRED_ENV[self.type])

    def required_env(self) -> list[str]:
        """Names of the variables that enable the channel (values are never read here)."""
        return [self.env[k] for k in _REQUIRED_ENV[self.type] if k in self.env]

    def optional_env(self) -> list[str]:
        """Names of the variables the channel reads when set, but does not need."""
        required = set(_REQUIRED_ENV[self.type])
        return [v for k, v in self.env.items() if k not in required]


@dataclass(frozen=True)
class AlertRule:
    """One rule: `metric operator threshold` per project, or the routing for a named check."""

    id: str
    title: str
    message: str
    severity: str
    channels: tuple[str, ...]
    metric: str | None = None
    operator: str | None = None
    threshold: float | None = None
    check: str | None = None  # "asset/key:check_name" for checks this rule does not build
    suppression_window_s: float = 300.0
    fire_after: int = 1
    description: str = ""

    def breached(self, value: float) -> bool:
        """Does `value` violate the rule (i.e. should it alert)?"""
        t = float(self.threshold)  # type: ignore[arg-type]
        return {
            ">": value > t,
            "<": value < t,
            ">=": value >= t,
            "<=": value <= t,
            "==": value == t,
        }[self.operator]  # type: ignore[index]

    def format_message(self, values: Mapping[str, Any]) -> str:
        """The rule's message with `{name}` placeholders filled from the metric values."""

        def sub(m: re.Match) -> str:
            v = values.get(m.group(1))
            if v is None:
                return m.group(0)
            if isinstance(v, float):
                return f"{v:.4g}"
            return str(v)

        return re.sub(r"\{(\w+)\}", sub, self.message)


@dataclass(frozen=True)
class AlertSettings:
    """Lifecycle and noise-control settings (Alertmanager-like defaults)."""

    repeat_interval_s: float = 4 * 3600.0
    group_interval_s: float = 300.0
    group_by: tuple[str, ...] = ("project", "rule_id")
    default_channels: tuple[str, ...] = ()
    default_severity: str = "high"
    max_attempt_age_s: float = 24 * 3600.0  # a notification still failing after this is given up
    backoff_base_s: float = 5.0
    backoff_cap_s: float = 300.0
    timeout_s: float = 10.0


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[AlertRule, ...]
    channels: tuple[ChannelConfig, ...]
    settings: AlertSettings
    path: str = ""

    def rule(self, rule_id: str) -> AlertRule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def channel(self, name: str) -> ChannelConfig:
        for c in self.channels:
            if c.name == name:
                return c
        raise ConfigError(f"unknown channel {name!r}")

    def rule_for_check(self, check_key: str) -> AlertRule | None:
        """The rule that owns the check `asset/key:check_name` (built by us or named by `check:`)."""
        for r in self.rules:
            if r.check == check_key:
                return r
        asset, _, name = check_key.rpartition(":")
        from aimatrix_pipeline.shared.rule_metrics import METRICS

        for r in self.rules:
            if r.metric and r.id == name and METRICS[r.metric].asset_key_str == asset:
                return r
        return None


def _req(raw: Mapping, key: str, where: str):
    if key not in raw or raw[key] is None or raw[key] == "":
        raise ConfigError(f"{where}: missing required field '{key}'")
    return raw[key]


def _channel(raw: Any, i: int, path: str) -> ChannelConfig:
    where = f"{path}: channels[{i}]"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping")
    name = require_str(_req(raw, "name", where), f"{where}: field 'name'", max_len=63, pattern=_NAME_RE,
                       pattern_text="must be letters, digits, '_', '.', '-' (<= 63)")
    where = f"{path}: channel {name!r}"
    ctype = require_str(_req(raw, "type", where), f"{where}: field 'type'", max_len=63)
    if ctype not in CHANNEL_TYPES:
        raise ConfigError(f"{where}: field 'type' must be one of {', '.join(CHANNEL_TYPES)}, got {shown(ctype)}")
    env: dict[str, str] = {}
    for key in _REQUIRED_ENV[ctype]:
        env[key] = _req(raw, key, where)
    for key in _OPTIONAL_ENV[ctype]:
        if raw.get(key):
            env[key] = raw[key]
    for key, value in env.items():
        if not isinstance(value, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$", value):
            raise ConfigError(
                f"{where}: field '{key}' is the NAME of an environment variable, got {shown(value)}"
            )
    known = set(_REQUIRED_ENV[ctype]) | set(_OPTIONAL_ENV[ctype]) | {
        "name", "type", "rate_per_second", "send_resolved"}
    options = {k: v for k, v in raw.items() if k not in known}
    if ctype == "email":
        to = options.get("to")
        if not to:
            raise ConfigError(f"{where}: missing required field 'to' (a list of addresses)")
        options["to"] = require_str_list(to, f"{where}: field 'to'", max_len=320, pattern=_ADDRESS_RE,
                                         pattern_text="must be an email address without spaces or line breaks")
        options["from"] = require_str(options.get("from", "aimatrix-alerts@localhost"), f"{where}: field 'from'",
                                      max_len=320, pattern=_ADDRESS_RE,
                                      pattern_text="must be an email address without spaces or line breaks")
        options["port"] = require_int(options.get("port", 587), f"{where}: field 'port'", 1, 65535)
    rate = require_finite(raw.get("rate_per_second", {"pagerduty": 2.0, "webhook": 10.0}.get(ctype, 1.0)),
                          f"{where}: field 'rate_per_second'", 0.0, MAX_RATE_PER_SECOND, lo_exclusive=True)
    send_resolved = require_bool(raw.get("send_resolved", True), f"{where}: field 'send_resolved'")
    return ChannelConfig(name, ctype, env, options, rate, send_resolved)


def _rule(raw: Any, i: int, path: str, channel_names: set[str], settings_raw: Mapping) -> AlertRule:
    from aimatrix_pipeline.shared.rule_metrics import METRICS

    where = f"{path}: rules[{i}]"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping")
    rid = _req(raw, "id", where)
    if not isinstance(rid, str) or not _ID_RE.match(rid):
        raise ConfigError(f"{where}: field 'id' {shown(rid)} must be lower-case letters, digits, '_' (<= 63)")
    where = f"{path}: rule {shown(rid)}"
    title = require_str(_req(raw, "title", where), f"{where}: field 'title'", max_len=MAX_TEXT, numbers_ok=True)
    message = require_str(_req(raw, "message", where), f"{where}: field 'message'", max_len=MAX_TEXT,
                          numbers_ok=True)
    severity = require_str(_req(raw, "severity", where), f"{where}: field 'severity'", max_len=63).lower()
    if severity not in SEVERITIES:
        raise ConfigError(f"{where}: field 'severity' must be one of {', '.join(SEVERITIES)}, got {shown(severity)}")
    channels = raw.get("channels", [])
    if isinstance(channels, str):
        channels = [channels]
    if not isinstance(channels, list):
        raise ConfigError(f"{where}: field 'channels' must be a list of channel names")
    channels = require_str_list(channels, f"{where}: field 'channels'", max_len=63)
    for c in channels:
        if c not in channel_names:
            raise ConfigError(f"{where}: field 'channels' names unknown channel {shown(c)}")
    metric = raw.get("metric")
    check = raw.get("check")
    operator = raw.get("operator")
    threshold = raw.get("threshold")
    if metric is not None:
        metric = require_str(metric, f"{where}: field 'metric'", max_len=200, allow_empty=True)
    if check is not None:
        check = require_str(check, f"{where}: field 'check'", max_len=1000, allow_empty=True)
    if operator is not None and not isinstance(operator, str):
        raise ConfigError(f"{where}: field 'operator' must be one of {' '.join(OPERATORS)}, got {shown(operator)}")
    if bool(metric) == bool(check):
        raise ConfigError(f"{where}: give exactly one of field 'metric' or field 'check'")
    if metric:
        if metric not in METRICS:
            raise ConfigError(
                f"{where}: field 'metric' {shown(metric)} is not a known metric ({', '.join(sorted(METRICS))})"
            )
        if operator not in OPERATORS:
            raise ConfigError(f"{where}: field 'operator' must be one of {' '.join(OPERATORS)}, got {shown(operator)}")
        if threshold is None or isinstance(threshold, bool):
            raise ConfigError(f"{where}: missing required field 'threshold'")
        threshold = require_finite(threshold, f"{where}: field 'threshold'")
    else:
        if ":" not in str(check):
            raise ConfigError(f"{where}: field 'check' must look like 'asset/key:check_name', got {shown(check)}")
    lo, lo_exclusive, hi = _DURATION_BOUNDS["suppression_window"]
    window = parse_duration(
        raw.get("suppression_window", settings_raw.get("suppression_window", "5m")),
        f"{where}: field 'suppression_window'", lo, hi, lo_exclusive,
    )
    fire_after = raw.get("fire_after", settings_raw.get("fire_after", 1))
    if not isinstance(fire_after, int) or isinstance(fire_after, bool):
        raise ConfigError(f"{where}: field 'fire_after' must be a whole number >= 1, got {shown(fire_after)}")
    fire_after = require_int(fire_after, f"{where}: field 'fire_after'", 1, MAX_FIRE_AFTER)
    return AlertRule(
        id=rid, title=title, message=message, severity=severity, channels=tuple(channels),
        metric=metric or None, operator=operator if metric else None,
        threshold=threshold if metric else None, check=str(check) if check else None,
        suppression_window_s=window, fire_after=fire_after,
        description=require_str(raw.get("description", ""), f"{where}: field 'description'", max_len=MAX_TEXT,
                                allow_empty=True, numbers_ok=True),
    )


def parse_rules(text: str, path: str = "<rules>") -> RuleSet:
    doc = parse_yaml(text, path) or {}
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{path}: expected a mapping with 'settings', 'channels' and 'rules'")
    s = doc.get("settings") or {}
    if not isinstance(s, Mapping):
        raise ConfigError(f"{path}: field 'settings' must be a mapping")
    unknown = sorted(str(k) for k in s if k not in _SETTINGS_KEYS)
    if unknown:
        raise ConfigError(f"{path}: settings field {shown(unknown[0])} is not a setting ({', '.join(_SETTINGS_KEYS)})")
    if "fire_after" in s:  # defaults for every rule: checked here so the error names the settings
        fire_after = s["fire_after"]
        if not isinstance(fire_after, int) or isinstance(fire_after, bool):
            raise ConfigError(f"{path}: settings field 'fire_after' must be a whole number >= 1, got {shown(fire_after)}")
        require_int(fire_after, f"{path}: settings field 'fire_after'", 1, MAX_FIRE_AFTER)
    if "suppression_window" in s:
        _setting_duration(s, "suppression_window", "5m", path)
    raw_channels = require_list(doc.get("channels") or [], f"{path}: field 'channels'", max_len=100)
    channels = tuple(_channel(c, i, path) for i, c in enumerate(raw_channels))
    names = [c.name for c in channels]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ConfigError(f"{path}: duplicate channel name {shown(sorted(dupes)[0])}")
    group_by = tuple(require_str_list(s.get("group_by", ["project", "rule_id"]),
                                      f"{path}: settings field 'group_by'", max_len=63))
    for g in group_by:
        if g not in ("project", "rule_id", "severity"):
            raise ConfigError(f"{path}: settings field 'group_by' entries must be project, rule_id or severity")
    default_channels = tuple(require_str_list(s.get("default_channels", []),
                                              f"{path}: settings field 'default_channels'", max_len=63))
    for c in default_channels:
        if c not in names:
            raise ConfigError(f"{path}: settings field 'default_channels' names unknown channel {shown(c)}")
    default_severity = require_str(s.get("default_severity", "high"), f"{path}: settings field 'default_severity'",
                                   max_len=63)
    if default_severity not in SEVERITIES:
        raise ConfigError(f"{path}: settings field 'default_severity' must be one of {', '.join(SEVERITIES)}")
    settings = AlertSettings(
        repeat_interval_s=_setting_duration(s, "repeat_interval", "4h", path),
        group_interval_s=_setting_duration(s, "group_interval", "5m", path),
        group_by=group_by,
        default_channels=default_channels,
        default_severity=default_severity,
        max_attempt_age_s=_setting_duration(s, "give_up_after", "24h", path),
        backoff_base_s=_setting_duration(s, "backoff_base", "5s", path),
        backoff_cap_s=_setting_duration(s, "backoff_cap", "5m", path),
        timeout_s=_setting_duration(s, "timeout", "10s", path),
    )
    if settings.backoff_cap_s < settings.backoff_base_s:
        raise ConfigError(f"{path}: settings field 'backoff_cap' must be at least 'backoff_base'")
    raw_rules = require_list(doc.get("rules") or [], f"{path}: field 'rules'", max_len=1000)
    rules = tuple(_rule(r, i, path, set(names), s) for i, r in enumerate(raw_rules))
    ids = [r.id for r in rules]
    dupes = {n for n in ids if ids.count(n) > 1}
    if dupes:
        raise ConfigError(f"{path}: duplicate rule id {shown(sorted(dupes)[0])}")
    return RuleSet(rules, channels, settings, path)


def rules_path(settings: Settings | None = None) -> Path:
    """The settings' rules file (`AIMATRIX_ALERT_RULES`, default the shipped alert_rules.yaml)."""
    return (settings or current_settings()).rules_path()


def load_rules(path: str | Path | None = None) -> RuleSet:
    """Load and validate the rules file (`path`, default the settings' `AIMATRIX_ALERT_RULES`)."""
    p = Path(path) if path else rules_path()
    return parse_rules(read_text(p, f"alert rules file {p} does not exist (set AIMATRIX_ALERT_RULES)"), str(p))
