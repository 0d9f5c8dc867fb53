-- PostGraphile's side of the benchmark: a login role without BYPASSRLS, row-level security policies fed by the
-- verified token's claims (pgSettings -> current_setting('jwt.claims.*')), and the two SQL functions a
-- PostGraphile schema would expose for the dashboard (Q2) and a worker's current enrollment (Q1).
--
-- Applied by bench/compare.py to the throw-away bench database only, after `rentan db upgrade` and the seeds:
-- never part of the project's migrations. The API itself connects as the table owner (a superuser in the bench
-- cluster), to which RLS does not apply, so nothing here changes what the API does or sees.
--
-- What the policies mirror (db/scoping.py, api/policies/policy.csv):
--   * a row of workers belongs to the region whose code prefixes its kelurahan_code; a token's scope is one
--     region code (2, 4, 6 or 10 digits): kelurahan-operator 3575041010, pemkot-admin 3575, bpjstk-verifier 35;
--   * enrollments, verification checks and moves are visible with their worker; regions and funding sources
--     when inside the scope or above it (a kelurahan sees its kecamatan and city); bills with their source;
--   * only roles with worker:create (kelurahan-operator, pemkot-admin) may insert workers, inside their scope;
--     registered_by and registered_at cannot be supplied by the client (column grants), they come from the
--     token (defaults below).
--   * fail closed: no scope claim means no rows (and graphile.config.mjs refuses, with 401, a token whose scope is
--     not one region code, as api/auth.py does).
-- Not mirrored: per-role column masking (NIK masked, contact fields null for pemkot-analyst and
-- kelurahan-viewer), which would need one database role per agency; the roles used by the bench see full rows.
--
-- Scope test as a range, kelurahan_code >= scope AND kelurahan_code < scope || '~', so that the planner can use
-- the btree indexes with the claim as a run-time key ('~' sorts after every digit in the cluster's C collation,
-- so the range is exactly the codes starting with the scope).

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rentan_pgl') THEN
    CREATE ROLE rentan_pgl LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
END
$$;

CREATE SCHEMA IF NOT EXISTS rls;
CREATE SCHEMA IF NOT EXISTS pgl;
GRANT USAGE ON SCHEMA public, rls, pgl TO rentan_pgl;

-- The token's scope: one region code (graphile.config.mjs refuses a token whose scope is not one code of 2, 4, 6
-- or 10 digits, with 401, as the API does), or NULL when the claim is missing: then every comparison is NULL and
-- no row passes.
CREATE OR REPLACE FUNCTION rls.scope() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT nullif(current_setting('jwt.claims.scope', true), '') $$;

-- The end of the scope's code range (exclusive).
CREATE OR REPLACE FUNCTION rls.scope_end() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT rls.scope() || '~' $$;

-- The regions containing the scope (a kelurahan's kecamatan, city and province).
-- (One expression, no FROM: PostgreSQL inlines it into the policies instead of running it as a query.)
CREATE OR REPLACE FUNCTION rls.scope_above() RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE length(rls.scope())
    WHEN 10 THEN ARRAY[left(rls.scope(), 2), left(rls.scope(), 4), left(rls.scope(), 6)]
    WHEN 6 THEN ARRAY[left(rls.scope(), 2), left(rls.scope(), 4)]
    WHEN 4 THEN ARRAY[left(rls.scope(), 2)]
    ELSE ARRAY[]::text[]
  END
$$;

CREATE OR REPLACE FUNCTION rls.role() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT current_setting('jwt.claims.role', true) $$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA rls TO rentan_pgl;

-- Tables PostGraphile may read; the others (audit, idempotency, policy, rate limits) it does not see at all.
GRANT SELECT ON cities, kecamatan, kelurahan, workers, worker_moves, enrollments, verification_checks,
  funding_sources, contribution_bills TO rentan_pgl;
-- Registering a resident (Q4): the fields a kelurahan office fills in, nothing else.
GRANT INSERT (nik, full_name, birth_date, sex, occupation, monthly_income, kelurahan_code, phone, address,
  family_card_number) ON workers TO rentan_pgl;
GRANT USAGE ON SEQUENCE workers_id_seq TO rentan_pgl;
-- Supplied by the server, not the client: who registered (the token's subject) and when. The API always sends
-- both, so these defaults never apply to its rows.
ALTER TABLE workers ALTER COLUMN registered_by SET DEFAULT current_setting('jwt.claims.sub', true);
ALTER TABLE workers ALTER COLUMN registered_at SET DEFAULT now();

ALTER TABLE cities ENABLE ROW LEVEL SECURITY;
ALTER TABLE kecamatan ENABLE ROW LEVEL SECURITY;
ALTER TABLE kelurahan ENABLE ROW LEVEL SECURITY;
ALTER TABLE workers ENABLE ROW LEVEL SECURITY;
ALTER TABLE worker_moves ENABLE ROW LEVEL SECURITY;
ALTER TABLE enrollments ENABLE ROW LEVEL SECURITY;
ALTER TABLE verification_checks ENABLE ROW LEVEL SECURITY;
ALTER TABLE funding_sources ENABLE ROW LEVEL SECURITY;
ALTER TABLE contribution_bills ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS scope_read ON cities;
CREATE POLICY scope_read ON cities FOR SELECT TO rentan_pgl
  USING ((code >= rls.scope() AND code < rls.scope_end()) OR code = ANY (rls.scope_above()));
DROP POLICY IF EXISTS scope_read ON kecamatan;
CREATE POLICY scope_read ON kecamatan FOR SELECT TO rentan_pgl
  USING ((code >= rls.scope() AND code < rls.scope_end()) OR code = ANY (rls.scope_above()));
DROP POLICY IF EXISTS scope_read ON kelurahan;
CREATE POLICY scope_read ON kelurahan FOR SELECT TO rentan_pgl
  USING ((code >= rls.scope() AND code < rls.scope_end()) OR code = ANY (rls.scope_above()));

DROP POLICY IF EXISTS scope_read ON workers;
CREATE POLICY scope_read ON workers FOR SELECT TO rentan_pgl
  USING (kelurahan_code >= rls.scope() AND kelurahan_code < rls.scope_end());
DROP POLICY IF EXISTS register ON workers;
CREATE POLICY register ON workers FOR INSERT TO rentan_pgl
  WITH CHECK (
    rls.role() IN ('kelurahan-operator', 'pemkot-admin')
    AND kelurahan_code >= rls.scope() AND kelurahan_code < rls.scope_end()
  );

DROP POLICY IF EXISTS scope_read ON worker_moves;
CREATE POLICY scope_read ON worker_moves FOR SELECT TO rentan_pgl
  USING (EXISTS (SELECT FROM workers w WHERE w.id = worker_moves.worker_id
                 AND w.kelurahan_code >= rls.scope() AND w.kelurahan_code < rls.scope_end()));
DROP POLICY IF EXISTS scope_read ON enrollments;
CREATE POLICY scope_read ON enrollments FOR SELECT TO rentan_pgl
  USING (EXISTS (SELECT FROM workers w WHERE w.id = enrollments.worker_id
                 AND w.kelurahan_code >= rls.scope() AND w.kelurahan_code < rls.scope_end()));
DROP POLICY IF EXISTS scope_read ON verification_checks;
CREATE POLICY scope_read ON verification_checks FOR SELECT TO rentan_pgl
  USING (EXISTS (SELECT FROM enrollments e WHERE e.id = verification_checks.enrollment_id));  -- RLS of enrollments

DROP POLICY IF EXISTS scope_read ON funding_sources;
CREATE POLICY scope_read ON funding_sources FOR SELECT TO rentan_pgl
  USING ((region_code >= rls.scope() AND region_code < rls.scope_end()) OR region_code = ANY (rls.scope_above()));
DROP POLICY IF EXISTS scope_read ON contribution_bills;
CREATE POLICY scope_read ON contribution_bills FOR SELECT TO rentan_pgl
  USING (EXISTS (SELECT FROM funding_sources f WHERE f.id = contribution_bills.funding_source_id));  -- RLS of sources

-- Q1: a worker's current enrollment as the API defines it (api/schema/types.py, Worker.current_enrollment): the
-- open one (proposed, active or lapsed), else the latest. A computed column: PostGraphile exposes it as
-- Worker.currentEnrollment (a list of at most one) and compiles it into the page's one statement. Declared SETOF
-- with ROWS 1 so that PostgreSQL inlines it as a LATERAL subquery: as a function returning one row it would run
-- once per worker as a separate plan, about 3x slower. Runs with the caller's RLS.
DROP FUNCTION IF EXISTS public.workers_current_enrollment(public.workers);
CREATE FUNCTION public.workers_current_enrollment(w public.workers) RETURNS SETOF public.enrollments
LANGUAGE sql STABLE PARALLEL SAFE ROWS 1 AS $$
  SELECT e.* FROM public.enrollments AS e
  WHERE e.worker_id = w.id
  ORDER BY e.status IN ('PROPOSED', 'ACTIVE', 'LAPSED') DESC, e.id DESC
  LIMIT 1
$$;
COMMENT ON FUNCTION public.workers_current_enrollment(public.workers) IS E'@behavior -connection +list';
GRANT EXECUTE ON FUNCTION public.workers_current_enrollment(public.workers) TO rentan_pgl;

-- Q2: Pemkot's dashboard, workers and active enrollments per kelurahan of the caller's scope (programmeSummary's
-- byKelurahan). A custom query (PostGraphile exposes it as Query.pglProgrammeSummaryByKelurahan); the aggregates
-- run under the caller's RLS, exactly as the rows would (SECURITY INVOKER: no way around the policies). Written as
-- joins, not as aggregates in subqueries: on dataset L that plan is 1.6x faster (31 vs 50 ms), on S about the same.
DROP FUNCTION IF EXISTS pgl.programme_summary_by_kelurahan();
DROP TYPE IF EXISTS pgl.kelurahan_summary;
CREATE TYPE pgl.kelurahan_summary AS (code text, name text, workers bigint, active_enrollments bigint);
CREATE FUNCTION pgl.programme_summary_by_kelurahan() RETURNS SETOF pgl.kelurahan_summary
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  -- A worker has at most one active enrollment (uq_enrollments_open_worker): one joined row per worker.
  SELECT k.code, k.name, count(w.id), count(e.id)
  FROM public.kelurahan AS k
  LEFT JOIN public.workers AS w ON w.kelurahan_code = k.code
  LEFT JOIN public.enrollments AS e ON e.worker_id = w.id AND e.status = 'ACTIVE'
  GROUP BY k.code, k.name
  ORDER BY k.code
$$;
GRANT EXECUTE ON FUNCTION pgl.programme_summary_by_kelurahan() TO rentan_pgl;
