#!/usr/bin/env bash
# Force-remove local swarmstack machines and everything they left on this host: processes,
# overlay mounts, network namespaces, bridges, veths, iptables rules, cgroups and state.
# For when `swarmstack local down` cannot run (a killed test session, a broken state file).
#
#   scripts/testbed-clean.sh            clusters of ended test sessions (it<pid>*, pid gone)
#                                       and pieces no state file accounts for - never a live one
#   scripts/testbed-clean.sh dev it123  exactly these clusters, running or not
#   scripts/testbed-clean.sh --all      every local cluster on this host (also live sessions!)
#   scripts/testbed-clean.sh --images   also the cached base image (with any of the above)
#
# Touches only what swarmstack names: /var/lib/swarmstack/local/<cluster>, netns
# swarmstack-<cluster>-*, iptables rules commented swarmstack-local:<cluster>, cgroups
# swarmstack/<cluster>, bridges ssbr<N> no rule uses. Needs root.
set -uo pipefail

STATE_ROOT="${SWARMSTACK_LOCAL_STATE:-/var/lib/swarmstack/local}"
CACHE_ROOT="${SWARMSTACK_LOCAL_CACHE:-/var/cache/swarmstack}"
[ "$(id -u)" -eq 0 ] || { echo "testbed-clean: needs root" >&2; exit 1; }

images=0
mode=stale
clusters=()
for arg in "$@"; do
    case "$arg" in
        --images) images=1 ;;
        --all) mode=all ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        -*) echo "testbed-clean: unknown option $arg (see --help)" >&2; exit 2 ;;
        *) clusters+=("$arg"); mode=named ;;
    esac
done

is_stale() {  # a test session's cluster whose pytest has ended, or pieces without state
    local name="$1"
    if [[ "$name" =~ ^it([0-9]+) ]]; then
        [ ! -e "/proc/${BASH_REMATCH[1]}" ]
        return
    fi
    [ ! -f "$STATE_ROOT/$name/state.json" ]
}

if [ "$mode" != named ]; then
    found=()
    for dir in "$STATE_ROOT"/*/; do [ -d "$dir" ] && found+=("$(basename "$dir")"); done
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^swarmstack-'); do
        name="${ns#swarmstack-}"; found+=("${name%-ss-*}")
    done
    for name in $(iptables -w -S FORWARD | grep -o 'swarmstack-local:[^" ]*' | cut -d: -f2); do
        found+=("$name")
    done
    # Machines with their own kernel (tests/integration/vm_machines.py): qemu -name NAME-N.
    for vm in $(pgrep -a qemu-system | grep -o -- '-name [^ ]*' | awk '{print $2}'); do
        found+=("${vm%-*}")
    done
    for cg in /sys/fs/cgroup/*/swarmstack/*/ /sys/fs/cgroup/swarmstack/*/; do
        [ -d "$cg" ] && found+=("$(basename "$cg")")
    done
    mapfile -t found < <(printf '%s\n' "${found[@]}" | sort -u | grep -v '^$')
    for name in "${found[@]}"; do
        if [ "$mode" = all ] || is_stale "$name"; then
            clusters+=("$name")
        else
            echo "testbed-clean: keeping $name (live; name it or use --all to remove it)" >&2
        fi
    done
fi

cluster_pids() {  # every process of the cluster: in its cgroups or naming its directory
    local name="$1"
    cat /sys/fs/cgroup/*/swarmstack/"$name"/cgroup.procs /sys/fs/cgroup/swarmstack/"$name"/cgroup.procs \
        2>/dev/null
    find /sys/fs/cgroup -path "*/swarmstack/$name/*" -name cgroup.procs -exec cat {} + 2>/dev/null
    grep -lsa -- "$STATE_ROOT/$name/" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3
    pgrep -f -- "^qemu-system-x86_64 -name $name-[0-9]+ "
}

for name in "${clusters[@]}"; do
    echo "testbed-clean: removing local cluster $name" >&2
    # Supervisors first (so nothing restarts), then everything else.
    pids=$(cluster_pids "$name" | sort -u | grep -vx "$$")
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        pids=$(cluster_pids "$name" | sort -u | grep -vx "$$")
        [ -z "$pids" ] && break
        kill -KILL $pids 2>/dev/null
        sleep 0.5
    done
    grep -s " $STATE_ROOT/$name/" /proc/mounts | awk '{print $2}' | sort -r | while read -r mnt; do
        umount "$mnt" 2>/dev/null || umount -l "$mnt"
    done
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^swarmstack-$name-ss-"); do
        ip netns del "$ns"
    done
    iptables -w -S FORWARD | grep -- "--comment \"\?swarmstack-local:$name\"\? " | while read -r rule; do
        eval "iptables -w ${rule/-A /-D }"
    done
    find /sys/fs/cgroup -depth -type d -path "*/swarmstack/$name*" -exec rmdir {} + 2>/dev/null
    rm -rf "${STATE_ROOT:?}/$name" "$STATE_ROOT/.$name.lock"
    rm -rf /run/systemd/nspawn/propagate/"$name"-ss-*
done

# Bridges no cluster's iptables rules point at any more; taps no qemu holds (DOWN); stray
# veths only when removing all.
for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E '^ss(br|v|t)[0-9]'); do
    if [[ "$link" == sst* ]]; then
        { [ "$mode" = all ] || grep -qx down "/sys/class/net/$link/operstate"; } && ip link del "$link" 2>/dev/null
    elif [[ "$link" == ssv* ]]; then
        [ "$mode" = all ] && ip link del "$link" 2>/dev/null
    elif ! iptables -w -S FORWARD | grep -q -- "-i $link "; then
        ip link del "$link" 2>/dev/null
    fi
done
find /sys/fs/cgroup -maxdepth 2 -type d -name swarmstack -exec rmdir {} + 2>/dev/null

if ((images)); then
    echo "testbed-clean: removing cached images in $CACHE_ROOT" >&2
    rm -rf "${CACHE_ROOT:?}/images"
fi
exit 0
