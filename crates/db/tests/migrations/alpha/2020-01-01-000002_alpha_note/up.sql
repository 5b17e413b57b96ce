ALTER TABLE alpha ADD COLUMN note text;
