-- Undoes create_quotes; the quotes in the table are lost.
DROP TABLE quotes;
