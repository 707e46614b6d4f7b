"""One module per area; each module defining ``router`` is included by ``create_app``."""
