"""feeds: the newsroom's feed publisher (articles and upstream feeds to RSS, Atom and JSON Feed)."""

__version__ = "0.1.0"
