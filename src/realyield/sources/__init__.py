"""Sources: fetch, import and bundle data; each source produces the same core records."""
