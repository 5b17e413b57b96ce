CREATE TABLE beta (id integer PRIMARY KEY);
