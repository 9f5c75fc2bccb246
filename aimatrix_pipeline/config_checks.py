"""Type and range checks shared by every configuration loader (YAML files and environment).

Why one module: a YAML file is written by hand, so a field can hold anything YAML can express (a
mapping where a name is expected, `lots` where a number is, `.nan`, `.inf`, `1e23`). Each loader
used to convert with `int()`/`float()`/`str()` and either crashed with a traceback or accepted the
value silently. These helpers check the type, that numbers are finite, and a plausible range, and
raise `ConfigError` with a message of the form `file: entry: field problem, got value`.

`where` is the caller's location including the field, e.g.
`"projects.yaml: projects[0]: 'max_connections'"`; the helpers append the problem
(`... must be a whole number, got 'lots'`), so every message names the file and the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any


class ConfigError(ValueError):
    """A configuration problem, with the file and field it concerns in the message.

    Defined here (and re-exported by `aimatrix_pipeline.settings`, where callers import it) so the
    settings module can use these checks without an import cycle."""

ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# ASCII only: Python's int()/float() also take "1_000" and full-width digits, which no one means.
_INT_RE = re.compile(r"^\s*[+-]?\d{1,30}\s*$", re.ASCII)
_FLOAT_RE = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$", re.ASCII)
_NON_FINITE = re.compile(r"^\s*[+-]?(nan|inf|infinity)\s*$", re.IGNORECASE)
_SHOWN = 60  # characters of a bad value quoted in a message


def shown(value: Any) -> str:
    """The offending value for a message: repr, shortened (a message must stay one short line)."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _num(x) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else f"{x:g}"


def _check_range(number, where: str, lo, hi, lo_exclusive: bool, raw: Any):
    too_low = lo is not None and (number <= lo if lo_exclusive else number < lo)
    too_high = hi is not None and number > hi
    if not (too_low or too_high):
        return number
    if too_low and lo == 0 and not lo_exclusive:
        text = "must not be negative"
    elif lo is not None and hi is not None:
        text = (f"must be greater than {_num(lo)} and at most {_num(hi)}" if lo_exclusive
                else f"must be between {_num(lo)} and {_num(hi)}")
    elif lo is not None:
        text = f"must be {'greater than' if lo_exclusive else 'at least'} {_num(lo)}"
    else:
        text = f"must be at most {_num(hi)}"
    raise ConfigError(f"{where} {text}, got {shown(raw)}")


def require_int(value: Any, where: str, lo: int | None = None, hi: int | None = None) -> int:
    """A whole number in [lo, hi]. Accepts ints, integral floats and digit strings (environment)."""
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _INT_RE.match(value):
        number = int(value)
    if number is None:
        raise ConfigError(f"{where} must be a whole number, got {shown(value)}")
    return _check_range(number, where, lo, hi, False, value)


def require_finite(value: Any, where: str, lo: float | None = None, hi: float | None = None,
                   lo_exclusive: bool = False) -> float:
    """A finite number (never NaN or +-Infinity) in [lo, hi] (or (lo, hi] with lo_exclusive)."""
    number: float | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an int too large for a float
            number = math.inf
    elif isinstance(value, str):
        if _FLOAT_RE.match(value):
            number = float(value)
        elif _NON_FINITE.match(value):
            number = math.nan
    if number is None:
        raise ConfigError(f"{where} must be a number, got {shown(value)}")
    if not math.isfinite(number):
        raise ConfigError(f"{where} must be a finite number, got {shown(value)}")
    return _check_range(number, where, lo, hi, lo_exclusive, value)


def require_str(value: Any, where: str, *, max_len: int = 1000, pattern: re.Pattern | None = None,
                pattern_text: str = "", allow_empty: bool = False, numbers_ok: bool = False) -> str:
    """Text (optionally matching `pattern`). Numbers are accepted as text only with numbers_ok."""
    if numbers_ok and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be text, got {type(value).__name__} {shown(value)}")
    if not value and not allow_empty:
        raise ConfigError(f"{where} must not be empty")
    if len(value) > max_len:
        raise ConfigError(f"{where} must be at most {max_len} characters, got {len(value)}")
    if pattern is not None and not pattern.match(value):
        raise ConfigError(f"{where} {pattern_text or 'has an invalid format'}, got {shown(value)}")
    return value


def require_env_name(value: Any, where: str) -> str:
    """The NAME of an environment variable (a secret's value never belongs in a config file)."""
    return require_str(value, where, max_len=128, pattern=ENV_NAME_RE,
                       pattern_text="must be the NAME of an environment variable (letters, digits, '_')")


def require_choice(value: Any, where: str, choices: tuple[str, ...], lower: bool = False) -> str:
    text = require_str(value, where, max_len=100)
    if lower:
        text = text.lower()
    if text not in choices:
        raise ConfigError(f"{where} must be one of {', '.join(choices)}, got {shown(value)}")
    return text


def require_bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false, got {shown(value)}")
    return value


def require_mapping(value: Any, where: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a mapping (key: value), got {type(value).__name__} {shown(value)}")
    return value


def require_list(value: Any, where: str, max_len: int = 10_000) -> list:
    if not isinstance(value, list):
        raise ConfigError(f"{where} must be a list, got {type(value).__name__} {shown(value)}")
    if len(value) > max_len:
        raise ConfigError(f"{where} must have at most {max_len} entries, got {len(value)}")
    return value


def require_str_list(value: Any, where: str, *, single_ok: bool = True, **str_kwargs) -> list[str]:
    """A list of text values (a single text is accepted as a one-element list with single_ok)."""
    if single_ok and isinstance(value, str):
        value = [value]
    items = require_list(value, where)
    return [require_str(v, f"{where}[{i}]", **str_kwargs) for i, v in enumerate(items)]


def env_int(env: Mapping[str, str], name: str, lo: int | None = None, hi: int | None = None,
            default: int | None = None) -> int | None:
    """An environment variable holding a whole number; unset or empty gives `default`."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    return require_int(raw, f"environment variable {name}", lo, hi)


def env_finite(env: Mapping[str, str], name: str, lo: float | None = None, hi: float | None = None,
               default: float | None = None, lo_exclusive: bool = False) -> float | None:
    """An environment variable holding a finite number; unset or empty gives `default`."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    return require_finite(raw, f"environment variable {name}", lo, hi, lo_exclusive)


def read_text(path, missing: str) -> str:
    """A config file's text; missing, unreadable or not UTF-8 is a ConfigError naming the file.

    `missing` is the message for a file that does not exist (it says which setting named it)."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(missing) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None


def parse_yaml(text: str, path) -> Any:
    """Parse YAML text; any parse problem is a ConfigError naming the file."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid YAML: nested too deeply") from None
    except (ValueError, OverflowError) as exc:  # e.g. an impossible date that YAML parses as a timestamp
        raise ConfigError(f"{path}: invalid value: {exc}") from None


def read_yaml(path, missing: str) -> Any:
    """Read and parse a YAML config file (see read_text and parse_yaml)."""
    return parse_yaml(read_text(path, missing), path)


def env_date(env: Mapping[str, str], name: str, default: str, earliest: str = "2000-01-01") -> str:
    """An environment variable holding a day (YYYY-MM-DD) between `earliest` and today, as ISO text."""
    import datetime as dt

    raw = (env.get(name) or "").strip() or default
    try:
        day = dt.date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise ConfigError(f"environment variable {name} must be a date (YYYY-MM-DD), got {shown(raw)}")
    if not dt.date.fromisoformat(earliest) <= day <= dt.datetime.now(dt.UTC).date():
        raise ConfigError(f"environment variable {name} must be a date between {earliest} and today, got {shown(raw)}")
    return day.isoformat()


DSN_SCHEMES = ("postgresql", "postgres")
URL_SCHEMES = ("https", "http")


def check_url(value: str, where: str, schemes: tuple[str, ...] = URL_SCHEMES) -> str:
    """An http(s) URL with a host (the Management API base); anything else is a ConfigError
    naming `where`."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - a port out of range or not a number raises here
    except ValueError as exc:
        raise ConfigError(f"{where} is not a valid URL ({exc})") from None
    if parts.scheme.lower() not in schemes or not parts.hostname:
        raise ConfigError(f"{where} must be a {' or '.join(s + '://' for s in schemes)} URL with a host, "
                          f"got {shown(value)}")
    return value


def check_dsn(value: str, where: str) -> str:
    """A monitored database's DSN as the extract takes it: a postgresql:// (or postgres://) URL.

    The value is a secret: no message quotes it, only its scheme. A key=value DSN is named as
    such (the extract refuses it), and a URL that does not parse (a password holding '[' or ']',
    a port that is not a number) is one line naming the variable, never a traceback."""
    from urllib.parse import urlsplit

    if "://" not in value:
        raise ConfigError(f"{where} must be a postgresql:// URL (postgresql://user:password@host:port/dbname); "
                          "a key=value DSN is not supported")
    scheme = value.split("://", 1)[0]
    if scheme.lower() not in DSN_SCHEMES:
        raise ConfigError(f"{where} must be a postgresql:// or postgres:// URL, got a {shown(scheme[:20])} URL")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - a port out of range or not a number raises here
    except ValueError as exc:
        reason = "port" if "port" in str(exc).lower() else "'[' or ']'"
        raise ConfigError(f"{where} does not parse as a URL (a {reason} where it cannot be): percent-encode "
                          "special characters of the user and password ('[' as %5B, ']' as %5D, '@' as %40, "
                          "'/' as %2F, ':' as %3A)") from None
    return value


def env_dsn(env: Mapping[str, str], name: str) -> str | None:
    """A DSN environment variable, checked (`check_dsn`); unset or empty gives None."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    return check_dsn(raw.strip(), f"environment variable {name}")
