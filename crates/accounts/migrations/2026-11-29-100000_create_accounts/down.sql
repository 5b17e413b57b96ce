DROP TABLE accounts_login_failures;
DROP TABLE accounts_sessions;
DROP TABLE accounts_users;
