-- Import runs (R-ETL-2, R-OPS-4) are visible to the administrators: the system administrator,
-- who runs the loads, and the business administrator, who answers for the data.
INSERT INTO role_permission (role, action, scope) VALUES
    ('sys_admin', 'import.view', 'all'),
    ('biz_admin', 'import.view', 'all');
