-- Shapes of this batch that raw.query_texts does not know yet, each with one masked example text
-- (masked again for that one row only); Python fingerprints them with pglast, once per shape.
with new_shapes as (
    select s.text_hash, any_value(s.id) as id
    from _shaped s
    where not exists (
        select 1 from raw.query_texts t where t.project = $project and t.text_hash = s.text_hash
    )
    group by s.text_hash
)
select n.text_hash, raw.mask_literals(coalesce(decode(b.query_text), '')) as query_text
from new_shapes n
join _checked b on b.id = n.id
