-- One masked text per text_hash of the batch that raw.query_texts does not know yet; Python
-- fingerprints each with PostgreSQL's own parser (pglast), once per query shape.
with masked as (
    select raw.mask_literals(coalesce(decode(b.query_text), '')) as query_text
    from _checked b
    where b._reason is null
)
select md5(query_text) as text_hash, any_value(query_text) as query_text
from masked m
where not exists (
    select 1 from raw.query_texts t where t.project = $project and t.text_hash = md5(m.query_text)
)
group by 1
