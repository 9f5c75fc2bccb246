-- One executed (or refused) apply attempt into ops.applied_recommendations.
insert into ops.applied_recommendations
    (id, recommendation_id, project, name, object_schema, object_name, statement, statement_kind,
     applied_by, started_at, finished_at, result, message, cleanup, verification)
values ($id, $recommendation_id, $project, $name, $object_schema, $object_name, $statement, $statement_kind,
        $applied_by, $started_at, $finished_at, $result, $message, $cleanup, $verification::json)
