"""The GraphQL schema, code-first: the contract graph and what Rentan adds to it."""
