# nginx, master as root and 2 workers that setuid to nobody, serving static
# files to curl on 127.0.0.1.  Prefix and config under /tmp (the docroot
# must be reachable by nobody); the fetched files land in ./fetched.
set -u
umask 022
D=$(mktemp -d /tmp/nginx.XXXXXX)
chmod 755 "$D"
trap 'rm -rf "$D"' EXIT
mkdir -p "$D/html" "$D/logs" fetched
cp index.html big.bin "$D/html/"
chmod 644 "$D/html/"*
cat > "$D/nginx.conf" <<CONF
daemon off;
worker_processes 2;
user nobody nogroup;
pid $D/nginx.pid;
error_log $D/logs/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $D/body; proxy_temp_path $D/proxy; fastcgi_temp_path $D/fcgi;
  uwsgi_temp_path $D/uwsgi; scgi_temp_path $D/scgi;
  server { listen 127.0.0.1:$PORT; root $D/html; }
}
CONF
nginx -p "$D" -c "$D/nginx.conf" -e "$D/logs/error.log" &
NGINX=$!
up=no
for i in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null && { up=yes; break; }
  sleep 0.05
done
echo "nginx up: $up"
echo "workers: $(ps -o user= --ppid "$NGINX" | sort | uniq -c | awk "{ print \$1, \$2 }")"
for i in 1 2 3 4; do
  curl -sS -m 5 -o "fetched/index.$i" -w "index.html %{http_code} %{size_download}\n" "http://127.0.0.1:$PORT/index.html"
  curl -sS -m 5 -o "fetched/big.$i" -w "big.bin %{http_code} %{size_download}\n" "http://127.0.0.1:$PORT/big.bin"
done
curl -sS -m 5 -o /dev/null -w "missing %{http_code}\n" "http://127.0.0.1:$PORT/missing"
kill -QUIT "$NGINX"
wait "$NGINX"
echo "nginx exit $?"
cat "$D/logs/error.log" >&2
