#!/bin/sh
# One Swarm node's Docker Engine, started inside its network namespace as
#   ip netns exec NODE unshare --uts sh node.sh NODE CGROUP_MOUNT... -- DOCKERD_ARG...
# `ip netns exec` gives us a private mount namespace whose /sys is remounted for the network
# namespace, which hides the cgroup hierarchies: dockerd then refuses to start ("Devices cgroup
# isn't mounted"). So mount them again (each CGROUP_MOUNT is TYPE:OPTIONS:TARGET, read from the
# host's own mounts by console/sandbox/swarm/engines.py), give the engine its own /etc/docker
# (key.json), /run/docker (plugins) and /run/containerd (else dockerd uses the host's containerd
# when one runs there), name the host after the node (else all three report the same hostname to
# the Swarm), and become dockerd. The mounts are private to this namespace: they vanish with its
# last process and the host never sees them.
set -eu
node=$1
shift
hostname "$node"
mounted_root=no
while [ "$1" != "--" ]; do
  kind=${1%%:*}
  rest=${1#*:}
  options=${rest%%:*}
  target=${rest#*:}
  shift
  if [ "$target" != /sys/fs/cgroup ] && [ "$mounted_root" = no ]; then
    mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup
    mounted_root=yes
  fi
  mkdir -p "$target"
  if [ -n "$options" ]; then
    mount -t "$kind" -o "$options" "$kind" "$target"
  else
    mount -t "$kind" "$kind" "$target"
  fi
done
shift
for private in /etc/docker /run/docker /run/containerd; do
  mkdir -p "$private"
  mount -t tmpfs -o mode=755 tmpfs "$private"
done
exec dockerd "$@"
