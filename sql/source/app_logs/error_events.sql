-- The application's error events (the design document's ErrorEvent).
select
    id::text              as id,
    name::text            as name,
    textsend(message)     as message,
    textsend(stack)       as stack,
    severity::text        as severity,
    context::text         as context,
    user_agent::text      as user_agent,
    url::text             as url,
    created_at            as created_at
from {table}
where {filter}
