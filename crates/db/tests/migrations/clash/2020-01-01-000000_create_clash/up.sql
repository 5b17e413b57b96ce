CREATE TABLE clash (id integer PRIMARY KEY);
