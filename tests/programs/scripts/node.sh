# node: fs (sync and promises), crypto, child_process (spawn, execFile, spawnSync).
set -u
umask 022
node prog.js
echo "node exit $?"
