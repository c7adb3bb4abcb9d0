"""Small utilities with one home each: atomic file writes and file hashes (:mod:`.files`),
union-find grouping (:mod:`.unionfind`)."""
