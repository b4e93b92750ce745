-- Facts about the database itself. `instance_id` tells one database from another (a
-- snapshot of the in-memory index names the database it was built from).
CREATE TABLE vmap_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

INSERT INTO vmap_meta (key, value) VALUES ('instance_id', lower(hex(randomblob(16))));
