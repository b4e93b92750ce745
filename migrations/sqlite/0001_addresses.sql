-- The address registry. Codes are never deleted or reused: a retired address keeps its row.
CREATE TABLE addresses (
    id             INTEGER PRIMARY KEY,
    code           TEXT    NOT NULL UNIQUE,
    postcode       TEXT    NOT NULL,
    -- EWKB point, SRID 4326, byte-identical to a PostGIS geometry(Point,4326)
    geom           BLOB    NOT NULL,
    house_number   TEXT,
    alley          TEXT,
    street         TEXT,
    unit           TEXT,
    address        TEXT,
    client_ref     TEXT,
    status         TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired')),
    successor_code TEXT,
    -- Unix time in milliseconds
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    -- Bumped on every write; the data version is its maximum
    change_seq     INTEGER NOT NULL
);

CREATE INDEX addresses_change_seq ON addresses (change_seq);
