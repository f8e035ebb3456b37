-- The role catalogue (R-USR-3) and its permission matrix, as data. Deny by default:
-- an action not granted here is refused for every role.

INSERT INTO role (code, administered_by, sort) VALUES
    ('sys_admin', 'sys_admin', 1),
    ('security_auditor', 'sys_admin', 2),
    ('biz_admin', 'sys_admin', 3),
    ('bank_leader', 'biz_admin', 4),
    ('dept_head', 'biz_admin', 5),
    ('dept_staff', 'biz_admin', 6),
    ('am_supervisor', 'biz_admin', 7),
    ('account_manager', 'biz_admin', 8),
    ('vip_head', 'biz_admin', 9),
    ('vip_specialist', 'biz_admin', 10),
    ('credit_reviewer', 'biz_admin', 11),
    ('data_entry', 'biz_admin', 12),
    ('report_viewer', 'biz_admin', 13);

INSERT INTO role_permission (role, action, scope) VALUES
    ('sys_admin', 'institution.view', 'subtree'),
    ('sys_admin', 'institution.manage', 'subtree'),
    ('biz_admin', 'institution.view', 'subtree'),
    ('sys_admin', 'user.view', 'subtree'),
    ('sys_admin', 'user.create', 'subtree'),
    ('sys_admin', 'user.edit_roles', 'subtree'),
    ('sys_admin', 'user.freeze', 'subtree'),
    ('sys_admin', 'user.unlock', 'subtree'),
    ('sys_admin', 'user.reset_password', 'subtree'),
    ('sys_admin', 'user.force_logout', 'subtree'),
    ('biz_admin', 'user.view', 'subtree'),
    ('biz_admin', 'user.create', 'subtree'),
    ('biz_admin', 'user.edit_roles', 'subtree'),
    ('biz_admin', 'user.freeze', 'subtree'),
    ('biz_admin', 'user.unlock', 'subtree'),
    ('biz_admin', 'user.reset_password', 'subtree'),
    ('biz_admin', 'user.force_logout', 'subtree'),
    ('security_auditor', 'audit.search', 'subtree');
