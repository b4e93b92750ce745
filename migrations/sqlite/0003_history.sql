-- The history of the data, one entry per write transaction: `version` is the highest change
-- number the transaction wrote, `token` 16 random bytes drawn for it. A snapshot of the
-- index records the entry at or below its data version; it is used only on a database whose
-- entry there is the same, which proves the snapshot's history is a prefix of the
-- database's (a restored copy that took other writes has other tokens). vmap writes the
-- entries; plain SQL writes to this file add none (SQLite has no statement triggers).
CREATE TABLE vmap_history (
    version INTEGER PRIMARY KEY,
    token   BLOB    NOT NULL CHECK (length(token) = 16)
);

-- One entry for what was written before this migration, drawn here: two copies of one
-- database that were migrated apart get different entries, so even a divergence that
-- happened before the migration shows.
INSERT INTO vmap_history (version, token)
SELECT (SELECT MAX(change_seq) FROM addresses), randomblob(16)
WHERE EXISTS (SELECT 1 FROM addresses);
