#!/usr/bin/env bash
# Installs the native server binaries the test matrix starts on free loopback ports:
# redis-server, PostgreSQL, MariaDB, etcd (server and client), ZooKeeper and a Java runtime,
# plus Apache Curator and a JDK for the ZooKeeper interop tests, and redis-py for the Redis ones.
#
# Idempotent: when everything is present it exits 0 at once, without calling apt.
# The harness never uses the system services these packages bring, so the script keeps
# newly installed packages from starting them (policy-rc.d exit 101) and stops any that
# started anyway (systemd without policy-rc.d support, e.g. etcd on 2379).
# Services that already ran before this script are left alone.
set -euo pipefail

missing=()
have() { command -v "$1" >/dev/null 2>&1; }

pg_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [[ -x "$dir/initdb" && -x "$dir/postgres" ]] && return 0
  done
  have initdb && have postgres
}

have redis-server || missing+=(redis-server)
pg_bin || missing+=(postgresql)
{ have mariadbd || [[ -x /usr/sbin/mariadbd ]]; } && have mariadb-install-db || missing+=(mariadb-server)
have etcd || [[ -x /usr/bin/etcd ]] || missing+=(etcd-server)
have etcdctl || missing+=(etcd-client)
[[ -f /usr/share/zookeeper/bin/zkServer.sh || -d /usr/share/java/zookeeper.jar || -f /usr/share/java/zookeeper.jar ]] ||
  missing+=(zookeeper)
have java || missing+=(default-jre-headless)
# Curator interop tests (packages/zookeeper): Apache Curator 5.4 and a JDK to compile against it
[[ -f /usr/share/java/curator-recipes.jar ]] || missing+=(libcurator-recipes-java)
have javac || missing+=(openjdk-17-jdk-headless)
[[ -f /usr/share/java/slf4j-nop.jar ]] || missing+=(libslf4j-java)
# redis-py interop tests (packages/redis): Debian's redis-py for the system python3
/usr/bin/python3 -c 'import redis' >/dev/null 2>&1 || missing+=(python3-redis)

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

cmd="DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if ! have apt-get; then
  echo "install-servers: missing ${missing[*]}; no apt-get on this machine." >&2
  echo "Install the equivalent packages with your package manager, or set BATON_<BACKEND>_URL." >&2
  exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install-servers: missing ${missing[*]}. Run as root:" >&2
  echo "  sudo env $cmd" >&2
  exit 1
fi

echo "install-servers: installing ${missing[*]}"

# Which of the services these packages bring were running before: leave those alone.
services=(redis-server postgresql mariadb etcd zookeeper)
running_before=()
service_active() {
  if have systemctl && [[ -d /run/systemd/system ]]; then
    systemctl is-active --quiet "$1" 2>/dev/null
  else
    service "$1" status >/dev/null 2>&1
  fi
}
for s in "${services[@]}"; do
  service_active "$s" && running_before+=("$s")
done

# policy-rc.d 101 = "action forbidden": invoke-rc.d will not start services during install.
policy=/usr/sbin/policy-rc.d
policy_backup=
if [[ -e $policy ]]; then
  policy_backup=$(mktemp)
  cp -p "$policy" "$policy_backup"
fi
restore_policy() {
  if [[ -n $policy_backup ]]; then mv -f "$policy_backup" "$policy"; else rm -f "$policy"; fi
}
trap restore_policy EXIT
printf '#!/bin/sh\nexit 101\n' >"$policy"
chmod 755 "$policy"

export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/baton-install-servers.log 2>&1; then
  # A stale package index is the usual cause; refresh once and retry.
  apt-get update -q >>/tmp/baton-install-servers.log 2>&1 || true
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/baton-install-servers.log 2>&1; then
    tail -n 30 /tmp/baton-install-servers.log >&2
    echo "install-servers: apt-get failed; full log in /tmp/baton-install-servers.log" >&2
    exit 1
  fi
fi

# Stop (and keep disabled) whatever service started anyway that was not running before.
for s in "${services[@]}"; do
  [[ " ${running_before[*]} " == *" $s "* ]] && continue
  if service_active "$s"; then
    echo "install-servers: stopping system service $s (the harness runs its own servers)"
    if have systemctl && [[ -d /run/systemd/system ]]; then
      systemctl stop "$s" || true
      systemctl disable "$s" >/dev/null 2>&1 || true
    else
      service "$s" stop >/dev/null 2>&1 || true
    fi
  fi
done

echo "install-servers: done"
