"""Built-in text extractors, one module per family; see ``dispatch``."""
