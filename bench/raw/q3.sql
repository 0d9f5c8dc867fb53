-- Raw SQL floor of Q3 (pgbench -M prepared -D nik=NIK -D scope=35): BPJSTK's lookup of a worker by NIK with the
-- kelurahan's name and every enrollment, scoped to the province, in one statement.
SELECT w.id, w.full_name, k.name, e.id, e.status, e.membership_number, e.coverage_start, e.coverage_end,
       e.programmes
FROM workers AS w
JOIN kelurahan AS k ON k.code = w.kelurahan_code
LEFT JOIN enrollments AS e ON e.worker_id = w.id
WHERE w.nik = :nik AND w.kelurahan_code >= :scope AND w.kelurahan_code < :scope || '~'
ORDER BY e.id;
