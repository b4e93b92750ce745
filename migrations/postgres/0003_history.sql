-- The history of the data, one entry per statement that writes addresses: `version` is the
-- highest change number visible after the statement (its own highest, as writers are
-- serialised and numbers only grow), `token` 16 random bytes drawn for it. A snapshot of
-- the index records the entry at or below its data version; it is used only on a database
-- whose entry there is the same, which proves the snapshot's history is a prefix of the
-- database's (a restored copy that took other writes has other tokens). A trigger writes
-- the entries, so plain SQL writes have them too.
CREATE TABLE vmap_history (
    version BIGINT PRIMARY KEY,
    token   BYTEA  NOT NULL CHECK (octet_length(token) = 16)
);

-- One entry for what was written before this migration, drawn here: two copies of one
-- database that were migrated apart get different entries, so even a divergence that
-- happened before the migration shows.
INSERT INTO vmap_history (version, token)
SELECT latest, uuid_send(gen_random_uuid())
FROM (SELECT max(change_seq) AS latest FROM addresses) AS top
WHERE latest IS NOT NULL;

-- After the statement, still holding the writers' lock (see 0001): the highest change
-- number is this statement's own when it drew any. A statement that drew none (an update
-- of no row, `vmap copy` importing numbered rows) adds an entry only where that number has
-- none. One small insert per statement, not per row: vmap inserts thousands of rows a
-- statement.
CREATE FUNCTION vmap_note_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A lone max is answered from the change-number index's end.
    INSERT INTO vmap_history (version, token)
    SELECT latest, uuid_send(gen_random_uuid())
    FROM (SELECT max(change_seq) AS latest FROM addresses) AS top
    WHERE latest IS NOT NULL
    ON CONFLICT (version) DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER addresses_note_history
    AFTER INSERT OR UPDATE ON addresses
    FOR EACH STATEMENT EXECUTE FUNCTION vmap_note_history();
