-- Facts about the database itself. `instance_id` tells one database from another (a
-- snapshot of the in-memory index names the database it was built from).
CREATE TABLE vmap_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

INSERT INTO vmap_meta (key, value) VALUES ('instance_id', gen_random_uuid()::text);
