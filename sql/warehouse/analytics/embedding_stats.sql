-- Embedding statistics per project, day and model: generations, tokens, time, errors,
-- averages, error rate and an estimated cost ($embedding_cost_per_token_usd per token, 0.0001
-- by default). Parameters: $project, $embedding_cost_per_token_usd.
select $project as project,
       cast(created_at as date) as day,
       coalesce(model, 'unknown') as model,
       count(*) as total_generations,
       coalesce(sum(token_count), 0) as total_tokens,
       coalesce(sum(generation_time_ms), 0) as total_time_ms,
       count(*) filter (where error is not null and error <> '') as error_count,
       avg(generation_time_ms) as avg_time_per_generation_ms,
       avg(token_count) as avg_tokens_per_generation,
       (count(*) filter (where error is not null and error <> ''))::double / count(*) as error_rate,
       coalesce(sum(token_count), 0) * $embedding_cost_per_token_usd as cost_estimate_usd
from raw.embedding_generation_logs
where project = $project
group by all
