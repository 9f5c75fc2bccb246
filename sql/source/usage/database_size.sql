-- Current size of the monitored database (informational: Supabase bills provisioned disk).
select pg_database_size(current_database())::bigint as bytes
