//! Which postal table a code's five digits are read in, and which one a registry mints in.

/// Which postal table a registry mints new codes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PostalScheme {
    /// Quyết định 2475 (2017), the 63-province map.
    #[default]
    Legacy,
    /// Quyết định 2334 (2025), the 34-province map.
    Y2025,
}

impl PostalScheme {
    /// As recorded in `vmap_meta` and shown on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            PostalScheme::Legacy => "legacy",
            PostalScheme::Y2025 => "2025",
        }
    }

    pub fn parse(text: &str) -> Option<PostalScheme> {
        match text {
            "legacy" => Some(PostalScheme::Legacy),
            "2025" => Some(PostalScheme::Y2025),
            _ => None,
        }
    }
}

impl std::fmt::Display for PostalScheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
