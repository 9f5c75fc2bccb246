"""Object names are attacks: newlines, carriage returns, quotes, semicolons, ESC/CSI sequences, bidi
overrides, non-ASCII. On PG 15 and 18, through the real extract, analytics and `apply` CLI:

* the remediation SQL holds no control character, and says exactly what runs (pglast, psql);
* `apply --confirm` runs only the statement its finding allows, on the finding's own object;
* nothing the CLI prints carries a raw control character to the terminal.
"""

from __future__ import annotations

import re

import pglast
from psycopg import sql

from aimatrix_pipeline.cli import main
from tests.hostile.conftest import (
    FK_COLUMN,
    FK_TABLE,
    INJECTING,
    PAYLOADS,
    PWNED,
    SCHEMA,
    VACUUM_TABLE,
    VICTIM,
    dup_index,
    invalid_index,
    nopk_table,
)

# control characters (a newline only where the layout puts it), C1, bidi and invisible format characters
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def _target(stmt) -> tuple:
    if isinstance(stmt, pglast.ast.DropStmt):
        return tuple(n.sval for n in stmt.objects[0])
    if isinstance(stmt, pglast.ast.IndexStmt):
        return (stmt.relation.schemaname, stmt.relation.relname)
    if isinstance(stmt, pglast.ast.VacuumStmt):
        return tuple((r.relation.schemaname, r.relation.relname) for r in stmt.rels)
    return ()


def _expected_statements(f: dict) -> list[tuple]:
    own = (SCHEMA, f["object_name"])
    return {
        "no_primary_key": [],
        "duplicate_index": [("DropStmt", own)],
        "invalid_index": [("DropStmt", own)],
        "unindexed_foreign_key": [("IndexStmt", own)],
        "vacuum_overdue": [("VacuumStmt", (own,))],
    }[f["name"]]


def test_remediation_sql_holds_no_control_character_and_runs_only_what_it_says(hostile_env):
    findings = hostile_env.findings()
    found = {(f["name"], f["object_name"]) for f in findings}
    expected = ({("no_primary_key", nopk_table(k)) for k in PAYLOADS}
                | {("duplicate_index", dup_index(k)) for k in PAYLOADS}
                | {("invalid_index", invalid_index(k)) for k in INJECTING}
                | {("unindexed_foreign_key", FK_TABLE), ("vacuum_overdue", VACUUM_TABLE)})
    assert expected <= found, sorted(expected - found)
    for f in findings:
        text = f["remediation_sql"]
        assert not RAW_CONTROL.search(text), (f["name"], text)
        statements = [(type(r.stmt).__name__, _target(r.stmt)) for r in pglast.parse_sql(text)]
        if (f["name"], f["object_name"]) in expected:
            assert statements == _expected_statements(f), (f["name"], text)
        else:  # any other finding on these objects: a diagnostic query at most
            assert {s[0] for s in statements} <= {"SelectStmt"}, (f["name"], text)
    nopk = hostile_env.finding("no_primary_key", nopk_table("newline"))["remediation_sql"]
    assert all(line.startswith("-- ") for line in nopk.split("\n"))
    assert 'U&"n\\000ADROP INDEX CONCURRENTLY IF EXISTS hostile.victim_idx;\\000A--"' in nopk


def test_pasting_the_remediation_sql_into_psql_runs_nothing_beyond_what_it_says(hostile_env):
    before = hostile_env.relations()
    pasted = [f for f in hostile_env.findings()
              if f["name"] in ("no_primary_key", "invalid_index", "vacuum_overdue")]
    result = hostile_env.psql("\n".join(f["remediation_sql"] for f in pasted) + "\n")
    assert "ERROR" not in result.stderr, result.stderr
    after = hostile_env.relations()
    # the invalid indexes are dropped, as their remediation says; nothing else changed
    assert after == {r for r in before if not (r[1] == "i" and r[2] is False)}
    assert (VICTIM, "i", True) in after and not [r for r in after if r[0] == PWNED]


def _index_on(env, table: str) -> list[str]:
    rows = env.source.execute(
        "select c.relname from pg_index i join pg_class c on c.oid = i.indexrelid "
        "join pg_class t on t.oid = i.indrelid join pg_namespace n on n.oid = t.relnamespace "
        "where n.nspname = %s and t.relname = %s and not i.indisprimary", (SCHEMA, table))
    return [r[0] for r in rows]


def test_apply_runs_only_the_intended_statement_on_the_findings_own_object(hostile_env, capsys):
    env = hostile_env
    for key in PAYLOADS:
        f = env.finding("no_primary_key", nopk_table(key))
        before = env.relations()
        assert main(["apply", f["id"], "--confirm"]) == 1
        assert "refused: the remediation SQL holds only comments" in capsys.readouterr().out
        assert env.relations() == before

    for key in PAYLOADS:
        name = dup_index(key)
        f = env.finding("duplicate_index", name)
        before = env.relations()
        code = main(["apply", f["id"], "--confirm"])
        out, err = capsys.readouterr()
        assert not RAW_CONTROL.search(out.replace("\n", "")) and not RAW_CONTROL.search(err.replace("\n", ""))
        if key == "non_ascii" and code == 1:
            # statement texts with multi-byte names are cut from the parsed script by offset; where the
            # cut is not exactly the parsed statement, apply refuses it instead of running something else
            assert "refused:" in out and env.relations() == before
            continue
        assert code == 0, out
        assert env.relations() == before - {(name, "i", True)}, key

    for key in INJECTING:
        name = invalid_index(key)
        before = env.relations()
        assert main(["apply", env.finding("invalid_index", name)["id"], "--confirm"]) == 0, capsys.readouterr().out
        assert env.relations() == before - {(name, "i", False)}

    assert _index_on(env, FK_TABLE) == []
    before = env.relations()
    assert main(["apply", env.finding("unindexed_foreign_key", FK_TABLE)["id"], "--confirm"]) == 0
    [created] = _index_on(env, FK_TABLE)
    assert env.relations() == before | {(created, "i", True)}
    [(columns,)] = env.source.execute(
        "select array_agg(a.attname::text) from pg_index i join pg_attribute a on a.attrelid = i.indrelid "
        "and a.attnum = any(i.indkey) where i.indexrelid = (select oid from pg_class where relname = %s)", (created,))
    assert columns == [FK_COLUMN]

    before = env.relations()
    assert main(["apply", env.finding("vacuum_overdue", VACUUM_TABLE)["id"], "--confirm"]) == 0
    assert env.relations() == before
    [(last_vacuum,)] = env.source.execute(
        "select last_vacuum from pg_stat_user_tables where schemaname = %s and relname = %s", (SCHEMA, VACUUM_TABLE))
    assert last_vacuum is not None

    assert (VICTIM, "i", True) in env.relations() and not [r for r in env.relations() if r[0] == PWNED]
    results = [a["result"] for a in env.attempts()]
    assert results.count("refused") >= len(PAYLOADS) and "failed" not in results


def _tampered(env, original: str, name: str, object_name: str, statement) -> dict:
    """The finding with its remediation SQL replaced (an older row, a bug, an edited warehouse);
    `statement` may be a function of the finding's `original` remediation SQL."""
    f = env.finding(name, object_name)
    text = statement(original) if callable(statement) else statement
    with env.warehouse.transaction() as conn:
        conn.execute("update analytics.optimization_recommendations set remediation_sql = ? where id = ?",
                      [text, f["id"]])
    return f


TAMPERED = [
    ("no_primary_key", nopk_table("newline"),
     f"-- Pick the column(s) that identify a row, then:\nDROP INDEX CONCURRENTLY IF EXISTS {SCHEMA}.{VICTIM};",
     "a no_primary_key finding is fixed by hand"),
    ("duplicate_index", dup_index("escape"), f'DROP INDEX CONCURRENTLY IF EXISTS "{SCHEMA}"."{VICTIM}";',
     "not the finding's index"),
    ("duplicate_index", dup_index("bidi"), lambda own: own.replace(";", " CASCADE;", 1),
     "CASCADE would drop dependent objects"),
    ("vacuum_overdue", VACUUM_TABLE,
     lambda own: own.split("\n")[0] + f"\nDROP INDEX CONCURRENTLY IF EXISTS {SCHEMA}.{VICTIM};",
     "may run only ANALYZE or VACUUM"),
    ("vacuum_overdue", VACUUM_TABLE, f"VACUUM {SCHEMA}.victim;", "not the finding's table"),
    ("unindexed_foreign_key", FK_TABLE, f"CREATE INDEX CONCURRENTLY {PWNED}_idx ON {SCHEMA}.victim (v);",
     "not the finding's table"),
    ("unindexed_foreign_key", FK_TABLE, lambda own: re.sub(r"\(.*\);$", "(id);", own),
     "does not match the foreign key's columns"),
    ("unindexed_foreign_key", FK_TABLE, lambda own: own.replace("CREATE INDEX", "CREATE UNIQUE INDEX"),
     "CREATE UNIQUE INDEX would reject writes"),
]


def test_apply_refuses_statements_its_finding_does_not_allow_or_on_another_object(hostile_env, capsys):
    originals = {(f["name"], f["object_name"]): f["remediation_sql"] for f in hostile_env.findings()}
    for name, object_name, statement, reason in TAMPERED:
        f = _tampered(hostile_env, originals[name, object_name], name, object_name, statement)
        before = hostile_env.relations()
        assert main(["apply", f["id"], "--confirm"]) == 1, (name, reason)
        out = capsys.readouterr().out
        assert "refused:" in out and reason in out, out
        assert hostile_env.relations() == before, (name, reason)
        assert hostile_env.attempts()[-1]["result"] == "refused"
    assert (VICTIM, "i", True) in hostile_env.relations()


OUTPUT_COMMANDS = [
    ["report", "recommendations", "--sql"],
    ["report", "recommendations", "--sql", "--format", "csv"],
    ["sql", "select object_name, title, detail, remediation_sql from analytics.optimization_recommendations"],
    ["sql", "--format", "csv", "select object_name, title from analytics.optimization_recommendations"],
    # an error message that quotes the name with the ESC sequence
    ["sql", "select cast(object_name as integer) from analytics.optimization_recommendations "
            "where object_name like 'z' || chr(27) || '%'"],
]


def test_cli_output_never_carries_a_raw_control_character(hostile_env, capsys):
    for argv in OUTPUT_COMMANDS:
        main(argv)
        out, err = capsys.readouterr()
        for stream in (out, err):
            assert not RAW_CONTROL.search(stream.replace("\r\n", "\n").replace("\n", " ")), (argv, stream)
        assert "\\x1b[2J" in out + err, argv  # the ESC is shown, escaped
    for key in ("escape", "c1_csi", "bidi", "newline"):
        assert main(["apply", hostile_env.finding("duplicate_index", dup_index(key))["id"]]) == 0
        out, err = capsys.readouterr()
        assert "dry run: nothing was executed" in out
        for stream in (out, err):
            assert not RAW_CONTROL.search(stream.replace("\n", " ")), (key, stream)


SCS_TABLE = "x\\'; ALTER ROLE app_dev2 SUPERUSER; --"  # the table name as reported: x\'; ALTER ROLE ...


def test_literals_in_pasted_sql_are_safe_under_either_standard_conforming_strings(hostile_env):
    """A name ending a literal in a backslash: with standard_conforming_strings off, a plain '...'
    literal would end at the doubled quote and run the ALTER ROLE. Pasted as an operator (a
    superuser) under both settings, the role stays what it was and the statement runs whole."""
    env = hostile_env
    env.source.execute("drop role if exists app_dev2")
    env.source.execute("create role app_dev2 login")
    try:
        env.source.execute(sql.SQL("create table {} (id int, v text)").format(sql.Identifier(SCHEMA, SCS_TABLE)))
        env.source.execute(sql.SQL("insert into {} select g, 'v' from generate_series(1, 2000) g").format(
            sql.Identifier(SCHEMA, SCS_TABLE)))
        env.source.execute(sql.SQL("analyze {}").format(sql.Identifier(SCHEMA, SCS_TABLE)))
        env.refresh_findings()  # the baseline of its scan counters
        with env.source.connect(autocommit=True) as conn:
            for _ in range(60):
                conn.execute(sql.SQL("select count(*) from {} where v = 'none'").format(sql.Identifier(SCHEMA, SCS_TABLE)))
        env.refresh_findings()
        pasted = env.finding("seq_scan_heavy_table", SCS_TABLE)["remediation_sql"]
        assert "E'%x\\\\''; ALTER ROLE app_dev2 SUPERUSER; --%'" in pasted, pasted
        for setting in ("off", "on"):
            result = env.psql(f"set standard_conforming_strings = {setting};\n{pasted}\n")
            assert "syntax error" not in result.stderr and "ALTER ROLE" not in result.stdout, (setting, result)
            assert env.source.execute("select rolsuper from pg_roles where rolname = 'app_dev2'") == [(False,)], setting
        assert not RAW_CONTROL.search(pasted)
    finally:
        env.source.execute("drop role if exists app_dev2")


# A long non-ASCII table and column: their index name must be cut by bytes (PostgreSQL keeps 63).
MB_TABLE = "注文明細テーブル_ünïcødé_長い名前"  # 49 bytes
MB_COLUMN = "顧客番号_参照"                      # 19 bytes


def _fk_index_name(env) -> tuple[dict, str]:
    f = env.finding("unindexed_foreign_key", MB_TABLE)
    [stmt] = pglast.parse_sql(f["remediation_sql"])
    return f, stmt.stmt.idxname


def _seed_multibyte_fk(env) -> None:
    env.source.execute(sql.SQL("create table {} (id int primary key, {} int references {} (id), other int)").format(
        sql.Identifier(SCHEMA, MB_TABLE), sql.Identifier(MB_COLUMN), sql.Identifier(SCHEMA, "victim")))
    env.refresh_findings()


def test_generated_index_names_fit_63_bytes_with_their_suffix(hostile_env, capsys):
    env = hostile_env
    _seed_multibyte_fk(env)
    f, name = _fk_index_name(env)
    assert len(name.encode()) <= 63 and name.endswith("_fk_idx"), name
    assert re.search(r"_[0-9a-f]{6}_fk_idx$", name) and name.startswith(MB_TABLE[:5]), name
    name.encode().decode()  # cut at a character boundary
    assert main(["apply", f["id"], "--confirm"]) == 0, capsys.readouterr().out
    # PostgreSQL kept the whole name: it did not cut the suffix off
    assert _index_on(env, MB_TABLE) == [name]


def test_apply_reports_an_index_of_that_name_on_other_columns_as_a_conflict(hostile_env, capsys):
    """An index with the generated name already exists, on (other): `apply` said "already exists
    and is valid; nothing to do". It compares the definitions and reports the conflict."""
    env = hostile_env
    _seed_multibyte_fk(env)
    f, name = _fk_index_name(env)
    env.source.execute(sql.SQL("create index {} on {} (other)").format(
        sql.Identifier(name), sql.Identifier(SCHEMA, MB_TABLE)))
    before = env.relations()
    assert main(["apply", f["id"], "--confirm"]) == 1
    out = capsys.readouterr().out
    assert "already exists with another definition" in out and "(other)" in out, out
    assert "nothing to do" not in out
    assert env.relations() == before
    # the same index on the foreign-key column, under that name: that one is done
    env.source.execute(sql.SQL("drop index {}").format(sql.Identifier(SCHEMA, name)))
    env.source.execute(sql.SQL("create index {} on {} ({})").format(
        sql.Identifier(name), sql.Identifier(SCHEMA, MB_TABLE), sql.Identifier(MB_COLUMN)))
    assert main(["apply", f["id"], "--confirm"]) == 0
    assert "already exists and is valid" in capsys.readouterr().out
