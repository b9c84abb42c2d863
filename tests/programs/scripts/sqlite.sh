# sqlite3: 100k rows inserted in one transaction, then aggregate queries.
set -eu
umask 022
awk 'BEGIN {
  print "CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, name TEXT, v REAL);";
  print "BEGIN;";
  for (i = 1; i <= 100000; i++)
    printf "INSERT INTO t (k, name, v) VALUES (%d, %cname-%d%c, %d.5);\n", i % 97, 39, i % 1000, 39, i % 313;
  print "COMMIT;";
}' > load.sql
sqlite3 db.sqlite < load.sql
rm load.sql
sqlite3 db.sqlite <<'SQL'
CREATE INDEX t_k ON t (k);
SELECT count(*), sum(k), printf('%.3f', avg(v)), min(name), max(name) FROM t;
SELECT k, count(*), printf('%.2f', sum(v)) FROM t WHERE k < 5 GROUP BY k ORDER BY k;
SELECT name, count(*) AS n FROM t GROUP BY name ORDER BY n DESC, name LIMIT 3;
DELETE FROM t WHERE k = 0;
SELECT count(*) FROM t;
PRAGMA integrity_check;
VACUUM;
SQL
sqlite3 db.sqlite 'SELECT count(*) FROM t WHERE k = 0'
