-- One scrape's samples (a repeated scrape time replaces them). Parameters: $project, $scraped_at.
delete from raw.project_metrics where project = $project and scraped_at = $scraped_at
