-- Raw SQL floor of Q2 (pgbench -M prepared -D scope=CITY): Pemkot's dashboard, workers and active enrollments per
-- kelurahan of the city, in one statement; the scope as a code range ('~' sorts after the digits). A worker has at
-- most one active enrollment (uq_enrollments_open_worker), so the joins give one row per worker.
SELECT k.code, k.name, count(w.id) AS workers, count(e.id) AS active_enrollments
FROM kelurahan AS k
LEFT JOIN workers AS w ON w.kelurahan_code = k.code
LEFT JOIN enrollments AS e ON e.worker_id = w.id AND e.status = 'ACTIVE'
WHERE k.code >= :scope AND k.code < :scope || '~'
GROUP BY k.code, k.name
ORDER BY k.code;
