// Runs the graphql-http server audits (GraphQL over HTTP spec conformance) against a live server and prints
// the results as one JSON array on stdout: [{id, name, status, reason, httpStatus}].
//   node graphql_http_audit.cjs <url>      with RENTAN_AUDIT_TOKEN in the environment
// Every audit request carries the bearer token: the server refuses anything without one (401), so without it
// every audit would test the authentication gate, not the transport.
"use strict";
const { serverAudits } = require("graphql-http");

const url = process.argv[2];
const token = process.env.RENTAN_AUDIT_TOKEN;
if (!url || !token) {
  console.error("usage: RENTAN_AUDIT_TOKEN=... node graphql_http_audit.cjs <url>");
  process.exit(2);
}

function fetchWithToken(input, init = {}) {
  const headers = new Headers(init.headers || {});
  headers.set("authorization", `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}

(async () => {
  const results = [];
  for (const audit of serverAudits({ url, fetchFn: fetchWithToken })) {
    const result = await audit.fn();
    results.push({
      id: result.id,
      name: result.name,
      status: result.status,
      reason: result.status === "ok" ? null : result.reason,
      httpStatus: result.status === "ok" ? null : result.response && result.response.status,
    });
  }
  process.stdout.write(JSON.stringify(results));
})().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
