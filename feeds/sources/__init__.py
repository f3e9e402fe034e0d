"""Where entries come from: local article files and upstream feeds."""
