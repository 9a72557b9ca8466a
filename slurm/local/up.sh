#!/usr/bin/env bash
# Bring up a one-node SLURM cluster on loopback for the launcher tests (Debian slurm-wlm 22.05).
#
# Idempotent: a daemon that already runs is left alone, the packages are installed only when
# missing (needs root + apt), and the config is rewritten each time. Nothing here relies on
# systemd: munged, mariadbd, slurmdbd, slurmctld and slurmd are started by hand.
#
# Accounting (MariaDB + slurmdbd) is on by default because submitit reads job states through
# `sacct`: without it, a job that dies without writing its result (SIGKILL, OOM, time limit)
# is never seen as finished and `job.result()` waits forever.
#
# Environment:
#   SLURM_LOCAL_DIR     state, logs, pid files, database    (default: $TMPDIR/bench-slurm)
#   SLURM_LOCAL_DBD     1 = run slurmdbd + MariaDB (default), 0 = no accounting
#   SLURM_LOCAL_MEM_MB  RealMemory of the node in MB (default: 80% of MemTotal, at most 8000)
#   SLURM_LOCAL_CRED_EXPIRE  seconds a requeued job waits before it may start again (default 5;
#                       SLURM's own default is 120, far too slow for tests)
set -euo pipefail

STATE=${SLURM_LOCAL_DIR:-${TMPDIR:-/tmp}/bench-slurm}
DBD=${SLURM_LOCAL_DBD:-1}
CRED_EXPIRE=${SLURM_LOCAL_CRED_EXPIRE:-5}
NODE=$(hostname -s)
CONF_DIR=/etc/slurm
export DEBIAN_FRONTEND=noninteractive

log() { echo "[slurm-local] $*" >&2; }

running() {  # running <pidfile>: its process exists and is not a zombie (killed daemons linger as zombies)
  [ -s "$1" ] || return 1
  local stat
  stat=$(ps -o stat= -p "$(cat "$1")" 2>/dev/null) || return 1
  [ -n "$stat" ] && [[ $stat != Z* ]]
}

until_ok() {  # until_ok <seconds> <command...>: poll a command until it succeeds
  local deadline=$((SECONDS + $1)); shift
  until timeout 5 "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then log "gave up waiting for: $*"; return 1; fi
    sleep 0.2
  done
}

install_packages() {
  local wanted="slurmctld slurmd slurm-client munge" missing="" p
  [ "$DBD" = 1 ] && wanted="$wanted slurmdbd mariadb-server"
  for p in $wanted; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    log "missing packages:$missing (install them as root with apt-get)"; exit 2
  fi
  log "installing:$missing"
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

node_memory_mb() {
  if [ -n "${SLURM_LOCAL_MEM_MB:-}" ]; then echo "$SLURM_LOCAL_MEM_MB"; return; fi
  local total_kb mb
  total_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
  mb=$((total_kb * 8 / 10 / 1024))
  ((mb > 8000)) && mb=8000
  echo "$mb"
}

write_slurm_conf() {
  local accounting="AccountingStorageType=accounting_storage/none"
  if [ "$DBD" = 1 ]; then
    accounting=$'AccountingStorageType=accounting_storage/slurmdbd\nAccountingStorageHost=localhost\nAccountingStoragePort=6819'
  fi
  mkdir -p "$CONF_DIR" "$STATE"/{ctld,spool,log}
  cat > "$CONF_DIR/slurm.conf" <<CONF
# Written by slurm/local/up.sh: one node on loopback, no cgroups, no systemd.
ClusterName=benchlocal
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=cred_expire=$CRED_EXPIRE
CredType=cred/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/linux
JobCompType=jobcomp/none
$accounting
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
ReturnToService=2
MinJobAge=300
InactiveLimit=0
KillWait=5
Waittime=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$(node_memory_mb) State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
}

start_munge() {
  [ -s /etc/munge/munge.key ] || mungekey -c -k /etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
  install -d -o munge -g munge /run/munge
  running /run/munge/munged.pid || runuser -u munge -- /usr/sbin/munged
  until_ok 30 bash -c "munge -n | unmunge"
}

start_accounting() {
  local db="$STATE/mysql" run="$STATE/mysqlrun" sock=/run/mysqld/mysqld.sock
  install -d -o mysql -g mysql "$db" "$run" /run/mysqld
  if [ ! -d "$db/mysql" ]; then
    mariadb-install-db --user=mysql --datadir="$db" --skip-test-db >"$STATE/log/mariadb-install.log" 2>&1
  fi
  if ! running "$run/mysqld.pid"; then
    rm -f "$sock"
    setsid /usr/sbin/mariadbd --user=mysql --datadir="$db" --socket="$sock" --bind-address=127.0.0.1 \
      --port=3306 --pid-file="$run/mysqld.pid" --log-error="$STATE/log/mariadb.log" </dev/null >/dev/null 2>&1 &
  fi
  until_ok 60 mariadb-admin --socket="$sock" ping
  mariadb --socket="$sock" -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm-local';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
  cat > "$CONF_DIR/slurmdbd.conf" <<CONF
# Written by slurm/local/up.sh
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=root
PidFile=$STATE/slurmdbd.pid
LogFile=$STATE/log/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=localhost
StoragePort=3306
StorageUser=slurm
StoragePass=slurm-local
StorageLoc=slurm_acct_db
CONF
  chmod 600 "$CONF_DIR/slurmdbd.conf"
  running "$STATE/slurmdbd.pid" || /usr/sbin/slurmdbd
  until_ok 60 sacctmgr -n list cluster
}

start_slurm() {
  # A slurmctld that is not running starts with -c (no saved jobs): jobs saved by a cluster that went
  # down with the machine would otherwise come back as RUNNING and hold the node for nothing.
  running "$STATE/slurmctld.pid" || /usr/sbin/slurmctld -c
  until_ok 60 bash -c "scontrol ping | grep -q UP"
  running "$STATE/slurmd.pid" || /usr/sbin/slurmd -N "$NODE"
  until_ok 60 bash -c "sinfo -h -n $NODE -o %t | grep -Eq '^(idle|mix|alloc)'"
}

main() {
  local t0=$SECONDS
  install_packages
  write_slurm_conf
  start_munge
  [ "$DBD" = 1 ] && start_accounting
  start_slurm
  log "cluster up in $((SECONDS - t0)) s (state in $STATE)"
  sinfo -N -o "%N %c %m %t %P"
}

main "$@"
