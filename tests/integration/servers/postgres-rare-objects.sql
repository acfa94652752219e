CREATE EXTENSION citext; CREATE EXTENSION hstore; CREATE EXTENSION pg_trgm; CREATE EXTENSION btree_gist;
CREATE SCHEMA app AUTHORIZATION app_owner;
SET ROLE app_owner;
CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE app.pair AS (a int, b text);
CREATE TYPE app.floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
CREATE DOMAIN app.email AS citext CHECK (VALUE ~ '^[^@]+@[^@]+$');
CREATE COLLATION app.phonebook (provider = icu, locale = 'de-u-co-phonebk');
CREATE SEQUENCE app.ticket_seq START 1000 INCREMENT 7 MAXVALUE 100000 CYCLE;
CREATE TABLE app.people (
  id int GENERATED ALWAYS AS IDENTITY (START WITH 50 INCREMENT BY 5) PRIMARY KEY,
  name text COLLATE app.phonebook NOT NULL,
  mail app.email,
  mood app.mood DEFAULT 'ok',
  tags hstore,
  ticket int DEFAULT nextval('app.ticket_seq'),
  name_len int GENERATED ALWAYS AS (length(name)) STORED,
  bio text COMPRESSION lz4,
  CONSTRAINT name_not_blank CHECK (name <> '') NOT VALID,
  CONSTRAINT mail_unique UNIQUE (mail) DEFERRABLE INITIALLY DEFERRED
) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02);
ALTER TABLE app.people ALTER COLUMN bio SET STORAGE EXTERNAL;
ALTER TABLE app.people ALTER COLUMN name SET STATISTICS 500;
ALTER TABLE app.people REPLICA IDENTITY FULL;
CREATE INDEX people_name_trgm ON app.people USING gin (name gin_trgm_ops);
CREATE INDEX people_mood ON app.people (mood) WITH (fillfactor = 50);
ALTER TABLE app.people CLUSTER ON people_mood;
CREATE STATISTICS app.people_stats (dependencies, ndistinct) ON mood, ticket FROM app.people;
INSERT INTO app.people (name, mail, mood, tags, bio) SELECT 'Müller ' || g, 'u' || g || '@example.org', (ARRAY['sad','ok','happy'])[1 + g % 3]::app.mood, hstore('k', g::text), repeat('bio ', g) FROM generate_series(1, 40) g;
CREATE TABLE app.bookings (room int, during tstzrange, EXCLUDE USING gist (room WITH =, during WITH &&));
INSERT INTO app.bookings VALUES (1, '[2026-01-01,2026-01-02)'), (1, '[2026-01-02,2026-01-03)'), (2, '[2026-01-01,2026-01-05)');
CREATE TABLE app.base_log (at timestamptz DEFAULT now(), what text);
CREATE TABLE app.audit_log (who text) INHERITS (app.base_log);
INSERT INTO app.audit_log (at, what, who) VALUES ('2026-01-01', 'x', 'y');
CREATE UNLOGGED TABLE app.cache (k text PRIMARY KEY, v jsonb);
INSERT INTO app.cache VALUES ('a', '{"n": 1}');
CREATE TABLE app.events (id int, at date, kind text) PARTITION BY RANGE (at);
CREATE TABLE app.events_2026 PARTITION OF app.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01') PARTITION BY LIST (kind);
CREATE TABLE app.events_2026_a PARTITION OF app.events_2026 FOR VALUES IN ('a');
CREATE TABLE app.events_2026_rest PARTITION OF app.events_2026 DEFAULT;
CREATE TABLE app.events_default PARTITION OF app.events DEFAULT;
INSERT INTO app.events VALUES (1, '2026-03-01', 'a'), (2, '2026-03-01', 'b'), (3, '2030-01-01', 'a');
CREATE FUNCTION app.pair_text(app.pair) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT $1.a || ':' || $1.b $$;
CREATE CAST (app.pair AS text) WITH FUNCTION app.pair_text(app.pair) AS ASSIGNMENT;
CREATE FUNCTION app.concat_sfunc(text, text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT coalesce($1 || ',', '') || $2 $$;
CREATE AGGREGATE app.csv(text) (SFUNC = app.concat_sfunc, STYPE = text);
CREATE FUNCTION app.ci_eq(text, text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT lower($1) = lower($2) $$;
CREATE OPERATOR app.=== (LEFTARG = text, RIGHTARG = text, FUNCTION = app.ci_eq, COMMUTATOR = OPERATOR(app.===));
CREATE TEXT SEARCH DICTIONARY app.simple_nostop (TEMPLATE = pg_catalog.simple);
CREATE TEXT SEARCH CONFIGURATION app.plain (COPY = pg_catalog.english);
ALTER TEXT SEARCH CONFIGURATION app.plain ALTER MAPPING FOR asciiword WITH app.simple_nostop;
CREATE CONVERSION app.latin1_to_utf8 FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8;
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql SET search_path = app, pg_temp AS $$ BEGIN NEW.bio := coalesce(NEW.bio, '') || '.'; RETURN NEW; END $$;
CREATE TRIGGER people_touch BEFORE UPDATE OF bio ON app.people FOR EACH ROW WHEN (OLD.bio IS DISTINCT FROM NEW.bio) EXECUTE FUNCTION app.touch();
CREATE FUNCTION app.add(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE RETURN a + b;
CREATE PROCEDURE app.bump(n int) LANGUAGE sql BEGIN ATOMIC UPDATE app.cache SET v = jsonb_build_object('n', n); END;
CREATE VIEW app.happy WITH (security_barrier = true) AS SELECT id, name FROM app.people WHERE mood = 'happy';
CREATE RULE happy_insert AS ON INSERT TO app.happy DO INSTEAD INSERT INTO app.people (name, mood) VALUES (NEW.name, 'happy');
CREATE MATERIALIZED VIEW app.mood_counts AS SELECT mood, count(*) AS n FROM app.people GROUP BY mood WITH DATA;
CREATE UNIQUE INDEX ON app.mood_counts (mood);
CREATE MATERIALIZED VIEW app.later AS SELECT 1 AS one WITH NO DATA;
ALTER TABLE app.cache ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.cache FORCE ROW LEVEL SECURITY;
CREATE POLICY cache_a ON app.cache FOR SELECT TO app_reader USING (k = 'a');
GRANT USAGE ON SCHEMA app TO app_reader;
GRANT SELECT (id, name) ON app.people TO app_reader;
GRANT SELECT ON app.cache TO app_reader;
GRANT EXECUTE ON FUNCTION app.add(int, int) TO app_reader;
REVOKE EXECUTE ON FUNCTION app.touch() FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO app_reader;
COMMENT ON TABLE app.people IS 'Menschen ✓';
COMMENT ON COLUMN app.people.bio IS 'long text';
COMMENT ON TYPE app.mood IS 'how they feel';
COMMENT ON AGGREGATE app.csv(text) IS 'joins';
COMMENT ON OPERATOR app.=== (text, text) IS 'case-blind equality';
COMMENT ON TEXT SEARCH CONFIGURATION app.plain IS 'plain words';
COMMENT ON COLLATION app.phonebook IS 'German phone book';
RESET ROLE;
CREATE PUBLICATION app_pub FOR TABLE app.people;
ALTER PUBLICATION app_pub OWNER TO app_owner;
