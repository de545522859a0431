#!/usr/bin/env bash
# Gives `make docker-test` a Docker daemon and a compose CLI on a CI machine: run it as root (`bash
# envoy-test/ci-docker.sh`; not sourced, it exits on failure). Where they are missing it installs Debian's
# docker.io and docker-compose (v1), and starts dockerd itself, since CI has no service manager. Idempotent: with a
# working `docker info` and a compose CLI it changes nothing.
#
# On this project's CI machine (Debian 12, cgroup v1, kernel 6.x, root) dockerd runs with its defaults: overlay2,
# iptables through nft, the docker0 bridge. Should it not come up, it is retried once with the usual sandbox
# workarounds (no iptables, the vfs storage driver), which `make docker-test` also works with.
set -euo pipefail

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/traffic-shift-dockerd.log}
START_DEADLINE_S=60

have_compose() {
  command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1
}

# The machine may carry a docker client without a daemon, so look for dockerd itself.
packages=()
command -v dockerd >/dev/null || packages+=(docker.io)
have_compose || packages+=(docker-compose)
if ((${#packages[@]})); then
  echo "ci-docker: installing ${packages[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
fi

daemon_up() {
  docker info >/dev/null 2>&1
}

# Starts dockerd in the background with the given flags; waits until it answers, or gives up at the deadline.
start_dockerd() {
  echo "ci-docker: starting dockerd ${*:-with its defaults} (log: $DOCKERD_LOG)"
  setsid nohup dockerd "$@" >>"$DOCKERD_LOG" 2>&1 </dev/null &
  local pid=$! started=$SECONDS
  for ((i = 0; i < START_DEADLINE_S * 2; i++)); do
    if daemon_up; then
      echo "ci-docker: dockerd ready (pid $pid) after $((SECONDS - started))s"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break  # it exited: no point waiting
    ((SECONDS - started < START_DEADLINE_S)) || break
    sleep 0.5
  done
  echo "ci-docker: dockerd ${*:-with its defaults} did not come up; its log ends with:"
  tail -n 20 "$DOCKERD_LOG" || true
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  return 1
}

# Without docker's iptables rules, a FORWARD DROP policy left by an earlier start (docker sets it when it turns on
# ip_forward) would drop the bridged traffic between the containers.
fallback_netfilter() {
  iptables -P FORWARD ACCEPT 2>/dev/null || true
}

# A dockerd killed with its session leaves its pid file and that of its containerd; a new one refuses to start,
# or waits for a containerd that is gone, while such a pid exists, even as a zombie not yet reaped.
clear_stale_pidfile() {  # FILE PROCESS_NAME
  local pid
  [[ -f $1 ]] || return 0
  pid=$(cat "$1" 2>/dev/null || true)
  if [[ -z $pid || "$(cat "/proc/$pid/comm" 2>/dev/null)" != "$2" ]] ||
    grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null; then
    rm -f "$1"
  fi
}

if ! daemon_up; then
  clear_stale_pidfile /var/run/docker.pid dockerd
  clear_stale_pidfile /var/run/docker/containerd/containerd.pid containerd
  start_dockerd ||
    { fallback_netfilter && start_dockerd --iptables=false --storage-driver=vfs; } ||
    { echo "ci-docker: no Docker daemon could be started" >&2; exit 1; }
fi
have_compose || { echo "ci-docker: no compose CLI after installing docker-compose" >&2; exit 1; }
echo "ci-docker: $(docker version --format 'docker server {{.Server.Version}}')," \
  "$(docker-compose version --short 2>/dev/null || docker compose version --short)"
