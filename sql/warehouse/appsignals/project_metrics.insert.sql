-- Every parsed sample from the registered Arrow batch _samples. Parameters: $project, $scraped_at.
insert into raw.project_metrics (project, scraped_at, metric, labels, value)
select $project, $scraped_at, metric, labels::json, value
from _samples
