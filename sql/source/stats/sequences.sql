-- Sequences and how close they are to their maximum (last_value is NULL without privilege), with
-- the columns they feed: a DEFAULT nextval() (serial included) or an identity column. A bigint
-- sequence feeding an integer column runs out at the column's maximum, so the smallest maximum of
-- those columns' types is reported with the column (names are data, quoted where they are used).
with feeds as (
    select d.refobjid as seqid, ad.adrelid as relid, ad.adnum as attnum
    from pg_depend d
    join pg_attrdef ad on d.classid = 'pg_attrdef'::regclass and d.objid = ad.oid
    where d.refclassid = 'pg_class'::regclass
    union
    select d.objid, d.refobjid, d.refobjsubid::int2
    from pg_depend d
    where d.classid = 'pg_class'::regclass and d.refclassid = 'pg_class'::regclass
      and d.deptype in ('a', 'i') and d.refobjsubid > 0
),
cols as (
    select f.seqid, n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod) as column_type,
           case a.atttypid when 'int2'::regtype then 32767::bigint when 'int4'::regtype then 2147483647::bigint
                           when 'int8'::regtype then 9223372036854775807::bigint end as type_max
    from feeds f
    join pg_attribute a on a.attrelid = f.relid and a.attnum = f.attnum and not a.attisdropped
    join pg_class c on c.oid = f.relid
    join pg_namespace n on n.oid = c.relnamespace
)
select
    s.schemaname::text, s.sequencename::text, s.data_type::text,
    s.last_value::bigint, s.max_value::bigint, s.increment_by::bigint, s.cycle,
    lim.type_max                                             as column_max_value,
    lim.column_type::text                                    as column_type,
    lim.nspname::text                                        as column_schema,
    lim.relname::text                                        as column_table,
    lim.attname::text                                        as column_name
from pg_sequences s
join pg_namespace sn on sn.nspname = s.schemaname
join pg_class sc on sc.relnamespace = sn.oid and sc.relname = s.sequencename and sc.relkind = 'S'
left join lateral (
    select * from cols where cols.seqid = sc.oid order by cols.type_max nulls last, cols.relname limit 1
) lim on true
where s.schemaname not in ('pg_catalog', 'information_schema')
order by s.schemaname, s.sequencename
