DROP TABLE __name___items;
