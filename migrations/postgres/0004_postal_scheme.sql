-- Which postal table this registry mints new codes in ('legacy': Quyết định 2475, 2017;
-- '2025': Quyết định 2334). A registry that already holds addresses keeps minting legacy
-- codes until its operator runs `vmap migrate-postcodes`; a new one mints 2025 codes.
-- Issued codes never change either way.
INSERT INTO vmap_meta (key, value)
SELECT 'postal_scheme', CASE WHEN EXISTS (SELECT 1 FROM addresses) THEN 'legacy' ELSE '2025' END;
