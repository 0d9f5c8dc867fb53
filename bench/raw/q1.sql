-- Raw SQL floor of Q1 (pgbench -M prepared -D kel=KELURAHAN): a kelurahan operator's first page, 50 workers with
-- their kelurahan's name and current enrollment (the open one, else the latest), scoped to the kelurahan, in one
-- statement.
SELECT w.id, w.full_name, k.name, ce.status, ce.membership_number
FROM workers AS w
JOIN kelurahan AS k ON k.code = w.kelurahan_code
LEFT JOIN LATERAL (
  SELECT e.status, e.membership_number
  FROM enrollments AS e
  WHERE e.worker_id = w.id
  ORDER BY e.status IN ('PROPOSED', 'ACTIVE', 'LAPSED') DESC, e.id DESC
  LIMIT 1
) AS ce ON true
WHERE w.kelurahan_code = :kel
ORDER BY w.id
LIMIT 50;
