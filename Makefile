# nap-compose: `make demo` runs the guestbook across a local 3-host lab, `make test` runs every test.
# Both install what they need first (`make deps`, skipped when everything is there). Run as root.

PYTHON   ?= python3
LAB_DIR  ?= .lab
NAP      := $(PYTHON) -m napcompose
CLUSTER  := $(LAB_DIR)/nap-cluster.yml
APT_PKGS := docker.io etcd-server etcd-client openssh-server busybox-static iproute2 docker-compose dnsmasq-base nftables \
            redis-server procps make chromium chromium-driver docker-registry
PY_MODS  := docker yaml etcd etcd3gw networkx paramiko pytest hypothesis selenium

.PHONY: deps demo ping-demo test unit compat integration lab-up lab-down screenshots

deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "== installing system packages:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi
	@if ! $(PYTHON) -m pip show -q nap-compose >/dev/null 2>&1 || \
	    ! (cd / && $(PYTHON) -c "import $(shell echo $(PY_MODS) | tr ' ' ',')") 2>/dev/null; then \
	  echo "== installing nap-compose and its test tools (pip install -e '.[test]')"; \
	  $(PYTHON) -m pip install -q -e '.[test]'; \
	fi

unit: deps
	$(PYTHON) -m pytest tests/unit

integration: deps
	$(PYTHON) -m pytest -m integration tests/integration

compat: deps
	$(PYTHON) -m pytest tests/compat

# Unit tests, then the verdicts beside docker-compose 1.29.2, then the integration tests on a lab of
# their own. Any failure stops make with a non-zero status; so does pytest's "no tests collected" (5).
test: deps
	$(PYTHON) -m pytest tests/unit
	$(PYTHON) -m pytest tests/compat
	$(PYTHON) -m pytest -m integration tests/integration

lab-up: deps
	$(NAP) lab up --dir $(LAB_DIR)

lab-down:
	$(NAP) lab down --dir $(LAB_DIR)

# The guestbook of the design note across three lab hosts: build offline, up, write, read back, scale.
demo: deps
	LAB_DIR=$(LAB_DIR) PYTHON=$(PYTHON) examples/guestbook/demo.sh

# PNGs of the dashboard's views in docs/, taken in headless Chromium from the guestbook the demo runs.
screenshots: demo
	$(PYTHON) tools/screenshots.py --cluster $(CLUSTER) -f examples/guestbook/docker-compose.yml -p guestbook \
	    --out docs

# The flat network alone: two containers on two hosts pinging each other by address.
ping-demo: deps
	@echo "== 1. Build a local lab: 3 Docker hosts in network namespaces on one layer-2 switch,"
	@echo "      each with its own dockerd and sshd, a router without uplink, etcd, a busybox image."
	$(NAP) lab up --dir $(LAB_DIR)
	@echo
	@echo "== 2. Create the flat network on every host through SSH (run again: nothing changes)."
	$(NAP) --cluster $(CLUSTER) network create
	@echo
	@echo "== 3. Start a container with a fixed LAN address (in node1's block) on node1 ..."
	@$(NAP) lab exec --dir $(LAB_DIR) node1 -- docker rm -f demo_target >/dev/null 2>&1 || true
	$(NAP) lab exec --dir $(LAB_DIR) node1 -- docker run -d --name demo_target --net nap \
	    --ip 198.18.0.40 --stop-signal SIGKILL nap-lab/busybox:latest sleep 3600
	@echo
	@echo "== 4. ... and ping it by address from a container on node2 (an address of node2's block): no overlay, no NAT."
	$(NAP) lab exec --dir $(LAB_DIR) node2 -- docker run --rm --net nap \
	    nap-lab/busybox:latest sh -c 'echo "node2 container $$(hostname) -> 198.18.0.40:"; ping -c 3 198.18.0.40'
	@echo
	@echo "== 5. Clean up the demo container (the lab keeps running)."
	$(NAP) lab exec --dir $(LAB_DIR) node1 -- docker rm -f demo_target
	@echo
	@echo "The lab runs on: $(NAP) lab status --dir $(LAB_DIR); tear it down with: make lab-down"
