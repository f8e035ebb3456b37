-- The business administrator maintains the business parameters (R-CUS-4): tier thresholds
-- and the VIP standard, effective at the next recomputation.
INSERT INTO role_permission (role, action, scope) VALUES
    ('biz_admin', 'parameter.manage', 'all');
