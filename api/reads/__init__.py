"""The read side below the context: batched reads over the request's scoped session (DataLoaders, the realisation
figures). They take a session, never a Context, so the context can build them."""
