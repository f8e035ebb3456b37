-- The role catalogue and its permission matrix are visible to the system administrator,
-- who maintains them, and to the security auditor, who reviews who may do what.
INSERT INTO role_permission (role, action, scope) VALUES
    ('sys_admin', 'role.view', 'all'),
    ('security_auditor', 'role.view', 'all');
