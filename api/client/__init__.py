"""The file client: `rentan client ...` moves spreadsheets in and out of a running Rentan API over HTTP.

It holds no server code path: everything it does goes through GraphQL with the caller's bearer token, so a
sheet can do exactly what the token's role may do in GraphiQL, and nothing more.

Modules: ``connection`` (gql over HTTPX, errors a person can act on), ``sheets`` (XLSX/CSV reading and writing,
templates), ``columns`` (the column specs of every sheet, one place), ``imports``, ``exports`` and ``cli``.
"""
