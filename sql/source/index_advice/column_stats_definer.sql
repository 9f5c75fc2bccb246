-- The same figures through the opt-in SECURITY DEFINER function of sql/demo/06_monitoring_role.sql.
select schemaname, relname, attname, null_frac, n_distinct, max_mcv_freq, avg_width
from aimatrix_monitoring.column_stats()
