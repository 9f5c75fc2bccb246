"""Literal masking of app-log query texts (the shape a row's text_hash is computed from)."""

from __future__ import annotations

import pyarrow as pa

from aimatrix_pipeline import querytext


def test_literals_become_zero_identifiers_keep_their_digits():
    texts = pa.array([
        b"select * from events_2024 t1 where t1.email = 'a''b@example.com' and t1.total > 12.5 and t1.n=3",
        b"select * from events_2024 t1 where t1.email = 'zed@example.com' and t1.total > 7 and t1.n=41",
        b"select * from events_2025 t1 where t1.email = 'zed@example.com' and t1.total > 7 and t1.n=41",
    ], pa.binary())
    masked = querytext.mask_literals(texts, 10_000).to_pylist()
    assert masked[0] == "select * from events_2024 t1 where t1.email = 0 and t1.total > 0 and t1.n=0"
    assert masked[0] == masked[1], "texts differing only in literals share a shape"
    assert masked[2] != masked[1], "a different table is a different shape"
    assert querytext.analyse(masked[0]).parse_ok


def test_null_oversized_and_invalid_utf8_texts_are_not_shaped():
    texts = pa.array([None, b"select 1 from t where x = 'y'" + b" " * 100, b"select '\xff\xfe'", b"select 2"],
                     pa.binary())
    assert querytext.mask_literals(texts, 64).to_pylist() == [None, None, None, "select 0"]


def test_first_occurrences_flag_one_row_per_distinct_text():
    values = pa.array(["a", "b", "a", None, "b", None], pa.large_string())
    assert querytext.first_occurrences(values).to_pylist() == [True, True, False, True, False, False]
