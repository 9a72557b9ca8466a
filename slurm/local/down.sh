#!/usr/bin/env bash
# Stop the cluster that slurm/local/up.sh started: cancel jobs, then stop the daemons in the
# reverse order of their start, each through its pid file. PURGE=1 also deletes the state
# directory (job state, logs, the accounting database).
set -u
STATE=${SLURM_LOCAL_DIR:-${TMPDIR:-/tmp}/bench-slurm}

alive() { local stat; stat=$(ps -o stat= -p "$1" 2>/dev/null) && [ -n "$stat" ] && [[ $stat != Z* ]]; }

stop_daemon() {  # stop_daemon <pidfile>: SIGTERM, wait up to 15 s, then SIGKILL
  [ -s "$1" ] || return 0
  local pid i
  pid=$(cat "$1")
  alive "$pid" || return 0
  kill "$pid" 2>/dev/null
  for i in $(seq 150); do alive "$pid" || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
  return 0
}

if [ -s "$STATE/slurmctld.pid" ] && alive "$(cat "$STATE/slurmctld.pid")"; then
  squeue -h -o %A | xargs -r scancel 2>/dev/null
  sleep 1
fi
stop_daemon "$STATE/slurmd.pid"
stop_daemon "$STATE/slurmctld.pid"
stop_daemon "$STATE/slurmdbd.pid"
stop_daemon "$STATE/mysqlrun/mysqld.pid"
stop_daemon /run/munge/munged.pid
if [ "${PURGE:-0}" = 1 ]; then rm -rf "$STATE"; fi
exit 0
