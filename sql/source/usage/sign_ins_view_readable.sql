-- Can this role read sign-ins through the monitoring-role view? (Else the audit log itself.)
select to_regclass('aimatrix_monitoring.auth_sign_ins') is not null
       and has_table_privilege('aimatrix_monitoring.auth_sign_ins', 'select') as readable
