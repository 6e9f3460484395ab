-- Sample database for the sqlite image (/data/sample.db), built by images/build.sh.
PRAGMA journal_mode = DELETE;
CREATE TABLE cities (id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT NOT NULL, population INTEGER NOT NULL);
INSERT INTO cities (name, country, population) VALUES
  ('Dresden', 'DE', 556780),
  ('Lyon', 'FR', 522250),
  ('Porto', 'PT', 231800),
  ('Gdansk', 'PL', 486022),
  ('Bergen', 'NO', 289330);
CREATE TABLE readings (id INTEGER PRIMARY KEY, city_id INTEGER NOT NULL REFERENCES cities(id), day TEXT NOT NULL, celsius REAL NOT NULL);
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 364)
INSERT INTO readings (city_id, day, celsius)
  SELECT c.id, date('2024-01-01', '+' || n.i || ' days'), round(10 + 12 * sin((n.i - 100) * 0.0172) + c.id, 1)
  FROM n CROSS JOIN cities c;
CREATE INDEX readings_city_day ON readings (city_id, day);
