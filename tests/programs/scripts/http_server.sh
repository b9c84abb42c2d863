# python3 -m http.server (a ThreadingHTTPServer) serving ./www to a client
# making 8 requests at a time; the client saves what it got in ./got.
set -u
umask 022
python3 -m http.server --bind 127.0.0.1 --directory www "$PORT" 2>server.log &
SERVER=$!
python3 - "$PORT" <<'PY'
import concurrent.futures, hashlib, os, sys, time, urllib.error, urllib.request
port = int(sys.argv[1])
base = f"http://127.0.0.1:{port}/"
for _ in range(200):
    try:
        urllib.request.urlopen(base, timeout=2).read()
        break
    except urllib.error.HTTPError:
        break                   # an answer, even an error, means it is up
    except OSError:
        time.sleep(0.05)
names = sorted(os.listdir("www"))
os.mkdir("got")
def fetch(name):
    with urllib.request.urlopen(base + name, timeout=10) as r:
        body = r.read()
        status = r.status
    with open(os.path.join("got", name), "wb") as f:
        f.write(body)
    return f"{name} {status} {len(body)} {hashlib.sha256(body).hexdigest()[:16]}"
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    for line in pool.map(fetch, names * 2):
        print(line)
try:
    urllib.request.urlopen(base + "nope", timeout=5)
except urllib.error.HTTPError as e:
    print("nope", e.code)
listing = urllib.request.urlopen(base, timeout=5).read().decode()
print("listing entries", listing.count("<li>"))
PY
echo "client exit $?"
kill "$SERVER"; wait "$SERVER"
echo "server killed by signal $(( $? - 128 ))"
cat server.log >&2
rm -f server.log
