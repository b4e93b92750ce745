"""Schemathesis hooks for vmap's CI: the assign list bodies (CSV, NDJSON) are text."""

import schemathesis

schemathesis.serializer.alias(["text/csv", "application/x-ndjson"], "text/plain")
