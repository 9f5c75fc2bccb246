-- Shapes of this batch that raw.query_texts does not know yet, each with one masked example text;
-- Python fingerprints them with pglast, once per shape. Only the first row of each distinct masked
-- text (_first, flagged by the extract) is looked at, whatever its checks said: a later row with the
-- same shape may be loadable (a shape seen only in quarantined rows costs one spare row, no more).
with shapes as (
    select raw.text_hash(b._masked) as text_hash, any_value(coalesce(b._masked, '')) as query_text
    from _batch b
    where b._first
    group by all
)
select s.text_hash, s.query_text
from shapes s
where not exists (
    select 1 from raw.query_texts t where t.project = $project and t.text_hash = s.text_hash
)
