DROP TABLE alpha;
