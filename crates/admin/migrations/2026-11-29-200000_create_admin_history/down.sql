DROP TABLE admin_history;
