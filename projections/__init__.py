"""The read side: views folded from the services' event streams.

Each view is a pure fold (``apply(doc, event) -> doc``) over public events, so the
same code serves the in-memory views of the embedded runtime and the MongoDB
views of the projector workers, and a rebuild is just the fold from the start.
"""
