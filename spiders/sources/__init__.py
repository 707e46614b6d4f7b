"""One spider per source (file name = spider name)."""
