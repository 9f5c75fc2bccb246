"""The price book file: dated entries, overrides, and clear errors for bad entries."""

from __future__ import annotations

import datetime as dt

import pytest

from aimatrix_pipeline.cost.price_book import load_price_book, read_entries
from aimatrix_pipeline.settings import ConfigError


def test_shipped_book_has_exactly_one_entry_in_force_per_key_today():
    """The prices themselves are exercised where they are used (the cost assets' tests price usage
    through this book); here: the shipped file loads, and no key has two entries in force at once
    or none at all, which would double or drop a cost line."""
    today = dt.datetime.now(dt.UTC).date()
    book = load_price_book(overrides_path="")
    in_force = [e.key for e in book if e.effective_from <= today and (e.effective_to is None or today < e.effective_to)]
    assert len(in_force) == len(set(in_force))
    assert set(in_force) == {e.key for e in book}
    assert {"plan_fee", "egress", "compute_credits"} <= {line_item for line_item, _, _ in in_force}


def test_override_replaces_same_date_and_closes_earlier_entry(tmp_path):
    f = tmp_path / "o.yaml"
    f.write_text("entries:\n"
                 "  - {line_item: egress, effective_from: 2024-01-01, price_usd: 0.08, included: 250,"
                 " quota_scope: organization}\n"
                 "  - {line_item: egress, effective_from: 2026-07-01, price_usd: 0.11, included: 300,"
                 " quota_scope: organization}\n")
    egress = [e for e in load_price_book(overrides_path=f) if e.key == ("egress", "*", "*")]
    assert [(e.effective_from, e.effective_to, e.price_usd) for e in egress] == [
        (dt.date(2024, 1, 1), dt.date(2026, 7, 1), 0.08),
        (dt.date(2026, 7, 1), None, 0.11),
    ]


def test_environment_names_the_overrides_file(tmp_path, monkeypatch):
    f = tmp_path / "o.yaml"
    f.write_text("entries:\n  - {line_item: plan_fee, plan: enterprise, organization: bigco,"
                 " effective_from: 2025-01-01, price_usd: 1500, kind: plan_fee}\n")
    monkeypatch.setenv("AIMATRIX_PRICE_BOOK_OVERRIDES", str(f))
    keys = {e.key for e in load_price_book()}
    assert ("plan_fee", "enterprise", "bigco") in keys


@pytest.mark.parametrize("entry,message", [
    ("{line_item: egress, plan: gold, effective_from: 2025-01-01, price_usd: 1}", "'plan' must be"),
    ("{line_item: egress, price_usd: 1}", "effective_from"),
    ("{line_item: egress, effective_from: 'soon', price_usd: 1}", "effective_from"),
    ("{line_item: egress, effective_from: 2025-01-01, price_usd: -1}", "must not be negative"),
    ("{line_item: egress, effective_from: 2025-01-01, price_usd: cheap}", "'price_usd' must be a number"),
    ("{line_item: egress, effective_from: 2025-01-01, price_usd: 1, per_quantity: 0}", "per_quantity"),
    ("{line_item: egress, effective_from: 2025-01-01, price_usd: 1, rounding: up}", "'rounding' must be"),
    ("{effective_from: 2025-01-01, price_usd: 1}", "line_item"),
])
def test_bad_entries_name_the_file_and_entry(tmp_path, entry, message):
    f = tmp_path / "bad.yaml"
    f.write_text(f"entries:\n  - {entry}\n")
    with pytest.raises(ConfigError) as err:
        read_entries(f)
    assert message in str(err.value) and "bad.yaml: entries[0]" in str(err.value)


def test_impossible_date_is_a_clear_error(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("entries:\n  - {line_item: egress, effective_from: 2025-13-01, price_usd: 1}\n")
    with pytest.raises(ConfigError, match="bad.yaml: invalid value: month must be in 1..12"):
        read_entries(f)


def test_missing_or_shapeless_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        read_entries(tmp_path / "nope.yaml")
    (tmp_path / "x.yaml").write_text("prices: []\n")
    with pytest.raises(ConfigError, match="'entries'"):
        read_entries(tmp_path / "x.yaml")
