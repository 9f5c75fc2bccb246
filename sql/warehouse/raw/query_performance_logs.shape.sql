-- Query shape of each loadable row of the batch: hash of the text with literals masked.
-- Only (id, text_hash) is kept; the masking (the costly part) runs once per row, here.
-- hash() is DuckDB's 64-bit hash, rendered as hex: plenty for thousands of shapes, and if a future
-- DuckDB hashed differently, a shape would just get a second raw.query_texts row with the same
-- fingerprint (analytics groups by fingerprint), never a wrong one.
create or replace temp table _shaped as
select b.id, hex(hash(raw.mask_literals(coalesce(decode(b.query_text), '')))) as text_hash
from _checked b
where b._reason is null
