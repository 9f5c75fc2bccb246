-- Seed Supabase's auth (GoTrue) and storage schemas the way those services write them.
-- Ids are md5-derived uuids (not gen_random_uuid) so a fixed seed gives identical data.
-- About 10 % of users are anonymous (no e-mail), about 5 % sign in through SSO.

insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                        last_sign_in_at, raw_app_meta_data, raw_user_meta_data, is_super_admin,
                        created_at, updated_at, phone, is_sso_user, deleted_at, is_anonymous)
select '00000000-0000-0000-0000-000000000000'::uuid,
       md5('auth.users:' || g)::uuid,
       'authenticated', 'authenticated',
       case when u.kind = 'anonymous' then null else 'customer' || g || '@example.com' end,
       case when u.kind = 'email' then '$2a$10$' || md5('pw' || g) else '' end,
       case when u.kind = 'anonymous' then null else u.created_at + interval '5 minutes' end,
       u.created_at + (current_setting('aimatrix.anchor')::timestamptz - u.created_at) * random(),
       case u.kind
           when 'anonymous' then '{"provider": "anonymous", "providers": ["anonymous"]}'::jsonb
           when 'sso' then jsonb_build_object('provider', 'sso:' || md5('sso-provider')::uuid,
                                              'providers', jsonb_build_array('sso:' || md5('sso-provider')::uuid))
           else '{"provider": "email", "providers": ["email"]}'::jsonb
       end,
       case when u.kind = 'anonymous' then '{}'::jsonb
            else jsonb_build_object('full_name', 'Customer ' || g) end,
       false,
       u.created_at, u.created_at,
       null, u.kind = 'sso', null, u.kind = 'anonymous'
from generate_series(1, current_setting('aimatrix.n_users')::int) as g
cross join lateral (
    select case when r < 0.10 then 'anonymous' when r < 0.15 then 'sso' else 'email' end as kind,
           current_setting('aimatrix.anchor')::timestamptz - random() * interval '365 days' as created_at
    from (select random() + 0 * g as r) as x
) as u;

-- GoTrue's audit log: payload is json with action, actor_id, actor_username, log_type, traits.
insert into auth.audit_log_entries (instance_id, id, payload, created_at, ip_address)
select '00000000-0000-0000-0000-000000000000'::uuid,
       md5('auth.audit:' || g)::uuid,
       json_build_object(
           'action', a.action,
           'actor_id', md5('auth.users:' || a.user_no)::uuid,
           'actor_username', 'customer' || a.user_no || '@example.com',
           'actor_via_sso', false,
           'log_type', case a.action when 'token_refreshed' then 'token'
                                     when 'token_revoked' then 'token'
                                     when 'user_signedup' then 'team'
                                     else 'account' end,
           'traits', case when a.action in ('login', 'user_signedup')
                          then json_build_object('provider', 'email') end
       ),
       current_setting('aimatrix.anchor')::timestamptz - (random() ^ 1.5) * interval '30 days',
       '10.' || floor(random() * 255)::int || '.' || floor(random() * 255)::int || '.' || floor(random() * 255)::int
from generate_series(1, current_setting('aimatrix.n_audit')::int) as g
cross join lateral (
    select 1 + floor(random() * current_setting('aimatrix.n_users')::int)::int as user_no,
           case when r < 0.50 then 'token_refreshed' when r < 0.85 then 'login'
                when r < 0.90 then 'user_signedup' when r < 0.95 then 'logout'
                else 'token_revoked' end as action
    from (select random() + 0 * g as r) as x
) as a;

insert into auth.sessions (id, user_id, created_at, updated_at, aal, not_after, refreshed_at,
                           user_agent, ip, tag)
select md5('auth.sessions:' || g)::uuid,
       md5('auth.users:' || s.user_no)::uuid,
       s.created_at,
       least(s.created_at + interval '1 hour' * floor(random() * 48), current_setting('aimatrix.anchor')::timestamptz),
       'aal1', null,
       least(s.created_at + interval '1 hour' * floor(random() * 48),
             current_setting('aimatrix.anchor')::timestamptz)::timestamp,
       (array['Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15',
              'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0',
              'okhttp/4.12.0', 'supabase-js/2.45.0'])[1 + floor(random() * 4)::int],
       ('10.0.' || floor(random() * 255)::int || '.' || floor(random() * 255)::int)::inet,
       null
from generate_series(1, current_setting('aimatrix.n_sessions')::int) as g
cross join lateral (
    select 1 + floor(random() * current_setting('aimatrix.n_users')::int)::int + 0 * g as user_no,
           current_setting('aimatrix.anchor')::timestamptz - random() * interval '14 days' as created_at
) as s;

insert into storage.buckets (id, name, owner, created_at, updated_at, public, file_size_limit, allowed_mime_types)
values ('avatars', 'avatars', null, current_setting('aimatrix.anchor')::timestamptz - interval '400 days',
        current_setting('aimatrix.anchor')::timestamptz - interval '400 days', true, 5242880,
        array['image/png', 'image/jpeg', 'image/webp']),
       ('documents', 'documents', null, current_setting('aimatrix.anchor')::timestamptz - interval '300 days',
        current_setting('aimatrix.anchor')::timestamptz - interval '300 days', false, 52428800, null),
       ('exports', 'exports', null, current_setting('aimatrix.anchor')::timestamptz - interval '100 days',
        current_setting('aimatrix.anchor')::timestamptz - interval '100 days', false, null, null)
on conflict (id) do nothing;

-- storage-api writes the object size into metadata->size (bytes); billing sums it.
insert into storage.objects (id, bucket_id, name, owner, created_at, updated_at, last_accessed_at,
                             metadata, version, owner_id, user_metadata)
select md5('storage.objects:' || g)::uuid,
       o.bucket_id,
       'user-' || md5('auth.users:' || o.user_no)::uuid || '/' || o.bucket_id || '-' || g || o.ext,
       md5('auth.users:' || o.user_no)::uuid,
       o.created_at, o.created_at, o.created_at,
       jsonb_build_object('eTag', '"' || md5('etag' || g) || '"', 'size', o.size,
                          'mimetype', o.mimetype, 'cacheControl', 'max-age=3600',
                          'lastModified', o.created_at, 'contentLength', o.size, 'httpStatusCode', 200),
       md5('version' || g)::uuid::text,
       md5('auth.users:' || o.user_no)::uuid::text,
       null
from generate_series(1, current_setting('aimatrix.n_objects')::int) as g
cross join lateral (
    select b.bucket_id, b.ext, b.mimetype,
           greatest(1, floor(b.typical_bytes * exp((random() + random() + random() - 1.5) * 1.5)))::bigint as size,
           1 + floor(random() * current_setting('aimatrix.n_users')::int)::int as user_no,
           current_setting('aimatrix.anchor')::timestamptz - random() * interval '300 days' as created_at
    from (select case when r < 0.6 then 'avatars' when r < 0.95 then 'documents' else 'exports' end as bucket_id,
                 case when r < 0.6 then '.png' when r < 0.95 then '.pdf' else '.csv.gz' end as ext,
                 case when r < 0.6 then 'image/png' when r < 0.95 then 'application/pdf'
                      else 'application/gzip' end as mimetype,
                 case when r < 0.6 then 250000 when r < 0.95 then 4000000 else 80000000 end as typical_bytes
          from (select random() + 0 * g as r) as x) as b
) as o;
