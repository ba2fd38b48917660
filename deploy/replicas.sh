#!/usr/bin/env bash
# N replicas of Grad-CAM Explorer behind HAProxy, in the foreground; Ctrl-C stops them all.
#
#   bash deploy/replicas.sh N PORT [app.py options...]     e.g.  bash deploy/replicas.sh 2 8080
#
# * Each replica is `python app.py` on 127.0.0.1 and a free port of its own.
# * HAProxy listens on PORT (address: $GRADCAM_HOST, default 127.0.0.1; 0.0.0.0 for a LAN) and
#   keeps each browser on one replica with a cookie it inserts (GRADCAM_SRV), never by client
#   address: a workshop's phones share one NAT address. Gradio keeps a session's queue and state
#   in one process: /gradio_api/queue/join and its SSE stream /gradio_api/queue/data must reach
#   the same replica, and they do, since both carry the cookie (browsers, and gradio_client, which
#   keeps the cookies of its first response).
# * Health checks: GET /gradio_api/app_id every 2 s; a replica that stops answering is taken out,
#   and its sessions' next requests go to a live one (option redispatch).
# * The replicas share the link store (GRADCAM_LINK_DIR, one folder): a link made on one replica
#   opens on every other. They also share the weights folder: a weights file is fetched once.
# * They share the workshop rooms (issue 26): the phones of one room land on different replicas, so
#   every replica reads the same rooms' store. On one box that is one SQLite file in
#   $GRADCAM_ROOMS_DIR (default here: $RUN_DIR/rooms); for replicas on several boxes, set
#   GRADCAM_ROOMS_URL=redis://host:6379/0 (one Redis for all) and the folder is not used.
# * HAProxy passes the client's address on in X-Forwarded-For (option forwardfor), after dropping
#   any X-Forwarded-For the client sent: the room service reads it to tell a facilitator on the
#   laptop itself (loopback, may open a room) from a phone (may only join).
# * Torch threads per replica: $GRADCAM_TORCH_THREADS, default cores ÷ (N × concurrency), at least 1.
# * Logs: one file per replica and HAProxy's, in $GRADCAM_REPLICAS_DIR (default: a new temp folder).
#
# HAProxy is Debian's `haproxy` package, installed with apt-get if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: bash deploy/replicas.sh N PORT [app.py options...]" >&2; exit 2; }
[ $# -ge 2 ] || usage
N=$1; PORT=$2; shift 2
[[ "$N" =~ ^[1-9][0-9]*$ ]] || { echo "N must be a positive number, got '$N'" >&2; usage; }
[[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] || { echo "PORT must be 1-65535, got '$PORT'" >&2; usage; }
PY=${PYTHON:-python}
HOST=${GRADCAM_HOST:-127.0.0.1}

HAPROXY=$(command -v haproxy || true)
[ -n "$HAPROXY" ] || HAPROXY=/usr/sbin/haproxy
if [ ! -x "$HAPROXY" ]; then
  echo "Installing HAProxy (Debian package haproxy)..." >&2
  if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq haproxy >/dev/null
  HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
fi

RUN_DIR=${GRADCAM_REPLICAS_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/gradcam-replicas.XXXXXX")}
mkdir -p "$RUN_DIR"
export GRADCAM_LINK_DIR=${GRADCAM_LINK_DIR:-$RUN_DIR/links}
mkdir -p "$GRADCAM_LINK_DIR"
# the rooms' store: Redis if GRADCAM_ROOMS_URL names one, else one SQLite file shared by the replicas
if [ -z "${GRADCAM_ROOMS_URL:-}" ]; then
  export GRADCAM_ROOMS_DIR=${GRADCAM_ROOMS_DIR:-$RUN_DIR/rooms}
  mkdir -p "$GRADCAM_ROOMS_DIR"
fi
export GRADIO_ANALYTICS_ENABLED=${GRADIO_ANALYTICS_ENABLED:-False}
if [ -z "${GRADCAM_TORCH_THREADS:-}" ]; then
  per=$(( $(nproc) / (N * ${GRADCAM_CONCURRENCY:-2}) ))
  export GRADCAM_TORCH_THREADS=$(( per > 0 ? per : 1 ))
fi

PIDS=()
cleanup() {
  trap - INT TERM EXIT
  echo "Stopping ${#PIDS[@]} processes..." >&2
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 40); do
    alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.5
  done
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# N free loopback ports, distinct from PORT
read -r -a PORTS <<< "$("$PY" - "$N" "$PORT" <<'EOF'
import socket, sys
n, avoid = int(sys.argv[1]), int(sys.argv[2])
socks, ports = [], []
while len(ports) < n:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
    p = s.getsockname()[1]
    if p != avoid:
        ports.append(p)
print(" ".join(map(str, ports)))
EOF
)"

SERVERS=""
for i in $(seq 1 "$N"); do
  SERVERS+="    server r$i 127.0.0.1:${PORTS[$((i - 1))]} cookie r$i check"$'\n'
done

cat >"$RUN_DIR/haproxy.cfg" <<EOF
# written by deploy/replicas.sh
global
    maxconn 4096
    log stdout format raw local0 info

defaults
    mode http
    log global
    option httplog
    option forwardfor
    # a replica that died: connections refused, or closed without an answer, are tried again
    # (on another replica for the last try)
    option redispatch
    retries 2
    retry-on conn-failure empty-response junk-response
    timeout connect 5s
    timeout http-request 30s
    # Gradio's SSE streams (/gradio_api/queue/data) stay open while a job runs
    timeout client 10m
    timeout server 10m
    timeout tunnel 10m

frontend gradcam
    bind $HOST:$PORT
    # X-Forwarded-For is HAProxy's alone (option forwardfor adds the client's address): a phone that
    # sends its own cannot pass for the laptop
    http-request del-header X-Forwarded-For
    default_backend replicas

backend replicas
    # new sessions: round robin; then the GRADCAM_SRV cookie keeps them on their replica
    balance roundrobin
    cookie GRADCAM_SRV insert indirect nocache httponly attr "SameSite=Lax"
    option httpchk GET /gradio_api/app_id
    http-check expect status 200
    default-server inter 2s fall 2 rise 1
$SERVERS
EOF

"$HAPROXY" -c -q -f "$RUN_DIR/haproxy.cfg" || { echo "HAProxy refused $RUN_DIR/haproxy.cfg" >&2; exit 1; }

for i in $(seq 1 "$N"); do
  p=${PORTS[$((i - 1))]}
  GRADCAM_HOST=127.0.0.1 "$PY" app.py --host 127.0.0.1 --port "$p" "$@" >"$RUN_DIR/replica-$i.log" 2>&1 &
  PIDS+=($!)
  echo "replica r$i: pid $!, 127.0.0.1:$p, log $RUN_DIR/replica-$i.log"
done

# wait until every replica answers (the model registry and page are built at start)
"$PY" - "$RUN_DIR" "${PORTS[@]}" "${PIDS[@]}" <<'EOF'
import sys, time, urllib.request
from pathlib import Path
run_dir, rest = sys.argv[1], sys.argv[2:]
ports, pids = rest[:len(rest) // 2], rest[len(rest) // 2:]
deadline = time.time() + 300
for i, (port, pid) in enumerate(zip(ports, pids), 1):
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/gradio_api/app_id", timeout=5).read()
            break
        except OSError:
            try:
                dead = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] == "Z"
            except OSError:
                dead = True
            if dead:
                sys.exit(f"replica r{i} exited at start; the end of {run_dir}/replica-{i}.log:\n"
                         + "\n".join(Path(run_dir, f"replica-{i}.log").read_text().splitlines()[-15:]))
            if time.time() > deadline:
                sys.exit(f"replica r{i} (port {port}) did not answer within 300 s")
            time.sleep(0.5)
EOF

"$HAPROXY" -f "$RUN_DIR/haproxy.cfg" -db >"$RUN_DIR/haproxy.log" 2>&1 &
HAPROXY_PID=$!
PIDS+=($HAPROXY_PID)
echo "HAProxy: pid $HAPROXY_PID, config $RUN_DIR/haproxy.cfg, log $RUN_DIR/haproxy.log"
# the address is printed once HAProxy listens on it (a client that reads it connects at once)
"$PY" - "$HOST" "$PORT" "$HAPROXY_PID" <<'EOF'
import socket, sys, time
from pathlib import Path
host, port, pid = sys.argv[1], int(sys.argv[2]), sys.argv[3]
host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
deadline = time.time() + 30
while True:
    try:
        socket.create_connection((host, port), timeout=1).close()
        break
    except OSError:
        if not Path(f"/proc/{pid}").exists() or time.time() > deadline:
            sys.exit(f"HAProxy is not listening on port {port}")
        time.sleep(0.1)
EOF
echo "links shared in $GRADCAM_LINK_DIR; torch threads per replica: $GRADCAM_TORCH_THREADS"
if [ -n "${GRADCAM_ROOMS_URL:-}" ]; then
  shown=$GRADCAM_ROOMS_URL  # its password left out
  [[ "$shown" == *@* ]] && shown="${shown%%://*}://…@${shown#*@}"
  echo "workshop rooms in $shown"
else
  echo "workshop rooms in $GRADCAM_ROOMS_DIR/rooms.sqlite3"
fi
echo "Grad-CAM Explorer: $N replicas at http://$HOST:$PORT/  (Ctrl-C stops them all)"
# in the foreground until HAProxy ends or we are stopped; a replica that dies is only taken out
wait "$HAPROXY_PID"
