// PostGraphile 5 for the benchmark (bench/compare.py): the Amber preset over the bench database, connected as
// rentan_pgl (no superuser, no BYPASSRLS), rows scoped by the RLS policies of rls.sql.
//
// Authentication as PostGraphile's JWT guide has it ("you own JWT verification"): the bearer token is verified
// here (ES256, issuer, audience and expiry pinned; the public key of the JWKS the API is given), and only the
// claims the policies read are passed on as pgSettings (jwt.claims.sub, .role, .scope). A missing or bad token is
// refused with 401.
// Environment (set by compare.py): BENCH_PGL_DATABASE_URL, BENCH_JWT_PUBLIC_KEY (a PEM file),
// BENCH_JWT_ISSUER, BENCH_JWT_AUDIENCE, BENCH_PGL_PORT.
import { readFileSync } from "node:fs";

import jwt from "jsonwebtoken";
import { makePgService } from "postgraphile/adaptors/pg";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

const publicKey = readFileSync(process.env.BENCH_JWT_PUBLIC_KEY ?? "jwt-public.pem");
const verifyOptions = {
  algorithms: ["ES256"],
  issuer: process.env.BENCH_JWT_ISSUER ?? "rentan-dev",
  audience: process.env.BENCH_JWT_AUDIENCE ?? "rentan-api",
  clockTolerance: 30,
};

function unauthenticated(message) {
  return Object.assign(new Error(message), { statusCode: 401, safeMessage: true });
}

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString: process.env.BENCH_PGL_DATABASE_URL,
      schemas: ["public", "pgl"],
      poolConfig: { max: 10 },
    }),
  ],
  grafserv: {
    host: "127.0.0.1",
    port: Number(process.env.BENCH_PGL_PORT ?? 5678),
    graphqlPath: "/graphql",
    graphiql: false,
    watch: false,
    websockets: false,
  },
  grafast: {
    explain: false,
    context(requestContext) {
      const header = requestContext.node?.req?.headers?.authorization;
      if (typeof header !== "string") throw unauthenticated("missing bearer token");
      const [scheme, token] = header.split(" ");
      if (scheme.toLowerCase() !== "bearer" || !token) throw unauthenticated("expected a bearer token");
      let claims;
      try {
        claims = jwt.verify(token, publicKey, verifyOptions);
      } catch (err) {
        throw unauthenticated(`invalid token: ${err.message}`);
      }
      // As the API refuses it (api/auth.py): a scope must be one region code (province, city, kecamatan, kelurahan).
      if (!/^([0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{10})$/.test(String(claims.scope))) {
        throw unauthenticated("invalid token: 'scope' must be one region code");
      }
      return {
        pgSettings: {
          "jwt.claims.sub": String(claims.sub ?? ""),
          "jwt.claims.role": String(claims.role ?? ""),
          "jwt.claims.scope": String(claims.scope ?? ""),
        },
      };
    },
  },
};

export default preset;
