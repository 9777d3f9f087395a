#!/usr/bin/env bash
# The guestbook across three Docker hosts of a local lab, step by step, with a word on each step.
#
#   LAB_DIR=.lab PYTHON=python3 examples/guestbook/demo.sh      (as root; `make demo` runs it this way)
#   LAB_NAME=mine LAB_SUBNET=198.18.9.0/24 LAB_DIR=/tmp/mine ...  (a lab of another name and subnet)
#
# Every step can run again: the lab is reused, builds find their copies up to date, `up` converges.
# Every HTTP request goes from this machine to an address on the lab's own segment; the helper below
# refuses any address outside the lab's subnet or one the kernel would send through a gateway.
set -euo pipefail

PYTHON=${PYTHON:-python3}
LAB_DIR=${LAB_DIR:-.lab}
case "$LAB_DIR" in /*) ;; *) LAB_DIR="$PWD/$LAB_DIR" ;; esac  # before the cd below
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"

CLUSTER="$LAB_DIR/nap-cluster.yml"
COMPOSE=examples/guestbook/docker-compose.yml
PROJECT=guestbook
NAP=("$PYTHON" -m napcompose)
GB=(-f "$COMPOSE" -p "$PROJECT" --cluster "$CLUSTER")

if [ "$(id -u)" != 0 ]; then
    echo "demo.sh: run as root (the lab creates network namespaces, dockerd and sshd)" >&2
    exit 1
fi

step() { echo; echo "== $*"; }
say() { echo "   $*"; }
# Show a nap-compose command the way a user would type it, then run it.
nap() {
    echo "\$ nap-compose $*"
    "${NAP[@]}" "$@"
}

# The lab-only HTTP client and the ps reader, in Python so no curl is needed.
# Usage: helper ips SERVICE           (ps --format json on stdin: "host ip" per replica, in order)
#        helper set IP KEY VALUE      (GET /guestbook?cmd=set..., follows httpd's 302, prints the JSON)
#        helper get IP KEY EXPECTED   (polls cmd=get until the answer holds EXPECTED, prints the JSON)
HELPER='
import ipaddress, json, subprocess, sys, time, urllib.error, urllib.parse, urllib.request
import yaml

def subnet():
    with open(sys.argv[1]) as fh:
        return ipaddress.ip_network(yaml.safe_load(fh)["network"]["subnet"])

def checked(ip):
    """ip, once it is known to be on the lab segment and reached without any gateway."""
    net = subnet()
    if ipaddress.ip_address(ip) not in net:
        sys.exit(f"demo: {ip} is outside the lab subnet {net}; not sending anything there")
    route = json.loads(subprocess.run(["ip", "-j", "route", "get", ip], check=True,
                                      capture_output=True, text=True).stdout)[0]
    if "gateway" in route or ipaddress.ip_address(route.get("prefsrc", "0.0.0.0")) not in net:
        via = route.get("gateway") or route.get("dev")
        sys.exit(f"demo: this machine would reach {ip} through {via}, not directly on the lab segment "
                 f"{net}; is the lab up?")
    return ip

def fetch(ip, query, deadline):
    url = f"http://{checked(ip)}/guestbook?{urllib.parse.urlencode(query, quote_via=urllib.parse.quote)}"
    print(f"   GET {url}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    while True:
        try:
            with opener.open(url, timeout=5) as answer:
                return answer.read().decode().strip()
        except (urllib.error.URLError, OSError) as exc:
            if time.monotonic() > deadline:
                sys.exit(f"demo: {url} failed: {exc}")
            time.sleep(0.5)

mode = sys.argv[2]
if mode == "ips":
    for row in map(json.loads, filter(None, sys.stdin.read().splitlines())):  # JSON Lines, as docker compose v2
        if row["Service"] == sys.argv[3]:
            print(row["Host"], row["IP"])
elif mode == "set":
    ip, key, value = sys.argv[3:6]
    print("   ->", fetch(ip, {"cmd": "set", "key": key, "value": value}, time.monotonic() + 15))
elif mode == "get":
    ip, key, expected = sys.argv[3:6]
    deadline = time.monotonic() + 15  # replication to the slave is asynchronous
    while True:
        body = fetch(ip, {"cmd": "get", "key": key}, deadline)
        if json.loads(body).get("data") == expected:
            print("   ->", body)
            break
        if time.monotonic() > deadline:
            sys.exit(f"demo: {ip} still answers {body}, expected the data {expected!r}")
        time.sleep(0.5)
'
helper() { "$PYTHON" -c "$HELPER" "$CLUSTER" "$@"; }

step "1. A lab of three Docker hosts on one layer-2 segment"
say "Each host is a network namespace with its own dockerd and sshd; a router namespace without"
say "uplink and an etcd (the address store) complete it. Nothing in it can reach beyond this machine."
say "If the lab already runs, 'lab up' just reports it."
LAB_OPTS=()
[ -n "${LAB_NAME:-}" ] && LAB_OPTS+=(--name "$LAB_NAME")
[ -n "${LAB_SUBNET:-}" ] && LAB_OPTS+=(--subnet "$LAB_SUBNET")
nap lab up --dir "$LAB_DIR" "${LAB_OPTS[@]}"
say "The flat network: on every host a Docker bridge network 'nap' on br0, over SSH."
say "Where it already exists as wanted, nothing changes."
nap --cluster "$CLUSTER" network create

step "2. The guestbook's images, built without a registry"
say "make-rootfs copies busybox and redis-server from this machine into each build context;"
say "'build' builds each image once, on the first host, and copies it to the others"
say "through the Docker API (save/load). A copy that is already there is 'up to date'."
echo "\$ examples/guestbook/make-rootfs"
examples/guestbook/make-rootfs
nap "${GB[@]}" build

step "3. Start the guestbook: web, redis-master and redis-slave"
say "The default 'spread' strategy puts each new container on the host with the fewest containers"
say "of the project, so the three services land on three different hosts. Each container gets a"
say "cluster-unique address from etcd, and the hosts file of each names its peers, so web reaches"
say "redis-master and redis-slave by name across hosts, as links do on one host."
say "When the project already runs, 'up' keeps what is up to date and goes back to the file's"
say "one web replica; step 5 scales it out again."
nap "${GB[@]}" up -d
nap "${GB[@]}" ps

ps_json=$("${NAP[@]}" "${GB[@]}" ps --format json)
mapfile -t placed < <(printf '%s\n' "$ps_json" | "$PYTHON" -c '
import json, sys
rows = [json.loads(line) for line in sys.stdin.read().splitlines() if line]
print(" ".join(sorted({r["Host"] for r in rows if r["Service"] in ("web", "redis-master", "redis-slave")})))')
read -r -a hosts_used <<<"${placed[0]}"
if [ "${#hosts_used[@]}" -ne 3 ]; then
    echo "demo: the three services share hosts (${hosts_used[*]}); see 'nap-compose ps' above" >&2
    exit 1
fi
read -r web_host web_ip < <(printf '%s\n' "$ps_json" | helper ips web | head -n 1)

step "4. Write a message through web and read it back"
say "This machine has an address on the lab segment, so it talks to web ($web_ip, on $web_host)"
say "directly. busybox httpd answers /guestbook with a 302 to /guestbook/, which the client follows."
say "The write goes from web to redis-master; the read is served from redis-slave, which"
say "replicates from redis-master on another host (asynchronously, so the read may be retried)."
message="Hello from the nap-compose demo at $(date -u +%H:%M:%S) UTC"
helper set "$web_ip" messages "$message"
helper get "$web_ip" messages "$message"
say "Replication as redis-slave sees it:"
echo "\$ nap-compose ${GB[*]} exec -T redis-slave sh -c '... INFO replication ... | nc 127.0.0.1 6379'"
"${NAP[@]}" "${GB[@]}" exec -T redis-slave sh -c \
    'printf "*2\r\n\$4\r\nINFO\r\n\$11\r\nreplication\r\n*1\r\n\$4\r\nQUIT\r\n" | nc -w 3 127.0.0.1 6379' \
    | tr -d '\r' | grep -E '^(role|master_host|master_link_status):' | sed 's/^/     /'

step "5. Three web replicas"
say "'scale' adds web_2 and web_3. Each publishes port 80, so no two can share a host: they go to"
say "the two hosts that have no web yet. Existing containers stay where they are."
nap "${GB[@]}" scale web=3
nap "${GB[@]}" ps
ps_json=$("${NAP[@]}" "${GB[@]}" ps --format json)
say "The message, read back through each web replica:"
while read -r host ip; do
    say "web on $host ($ip):"
    helper get "$ip" messages "$message"
done < <(printf '%s\n' "$ps_json" | helper ips web)

step "Done. The guestbook runs on three hosts."
say "Open http://$web_ip/ in a browser on this machine (any web replica's address works)."
say "Look around (from examples/guestbook the project name is 'guestbook', the directory's):"
say "  cd examples/guestbook && export NAP_CLUSTER=$CLUSTER"
say "  nap-compose ps                     # every container with its host and address"
say "  nap-compose hosts check            # are all /etc/hosts blocks as planned?"
say "  nap-compose logs redis-slave"
say "  nap-compose exec -T web cat /etc/hosts"
say "  nap-compose ipam ls                # the addresses held in etcd"
say "  nap-compose lab exec --dir $LAB_DIR node2 -- docker ps     # one host's own view"
say "Watch it live in a browser: hosts, containers, the service graph, addresses, hosts files, events:"
say "  nap-compose dashboard              # then open http://127.0.0.1:8088/ on this machine"
say "  nap-compose graph                  # the same graph in the terminal"
say "Tear down:"
say "  nap-compose down                   # remove the containers, release their addresses"
if [ "$LAB_DIR" = "$REPO/.lab" ]; then
    say "  make lab-down                      # the lab: nap-compose lab down --dir $LAB_DIR"
else
    say "  nap-compose lab down --dir $LAB_DIR    # the lab"
fi
