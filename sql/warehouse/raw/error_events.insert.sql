insert into raw.error_events
select
    $project, b.id::uuid, b.name, decode(b.message), decode(b.stack), b.severity,
    try_cast(b.context as json), b.user_agent, b.url, b.created_at, $extracted_at
from _checked b
where b._reason is null
