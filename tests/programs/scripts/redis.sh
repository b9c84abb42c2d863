# redis-server on 127.0.0.1 with redis-cli: 300 SETs, GETs, INCR, lists,
# INFO keyspace, SAVE and redis-check-rdb of the dump.
set -u
umask 022
mkdir data
redis-server --port "$PORT" --bind 127.0.0.1 --dir "$PWD/data" --save '' --appendonly no \
  --daemonize no --logfile "$PWD/redis.log" &
SERVER=$!
up=no
for i in $(seq 100); do
  [ "$(redis-cli -p "$PORT" ping 2>/dev/null)" = PONG ] && { up=yes; break; }
  sleep 0.05
done
echo "redis up: $up"
i=0
while [ $i -lt 300 ]; do echo "SET key:$i value-$i-$((i * i))"; i=$((i + 1)); done > cmds
redis-cli -p "$PORT" < cmds | sort | uniq -c
redis-cli -p "$PORT" GET key:0
redis-cli -p "$PORT" GET key:299
redis-cli -p "$PORT" MGET key:17 key:42 nokey
for i in 1 2 3 4 5; do redis-cli -p "$PORT" INCR counter; done
redis-cli -p "$PORT" RPUSH list a b c d e > /dev/null
redis-cli -p "$PORT" LRANGE list 1 3
redis-cli -p "$PORT" DBSIZE
redis-cli -p "$PORT" INFO keyspace | tr -d '\r'
redis-cli -p "$PORT" SAVE
redis-check-rdb data/dump.rdb | grep -E 'RDB looks OK|keys read|expires'
redis-cli -p "$PORT" SHUTDOWN NOSAVE
wait "$SERVER"
echo "redis exit $?"
cat redis.log >&2
rm -f redis.log data/dump.rdb
