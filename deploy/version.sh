#!/bin/bash
# Print gatewayd's version: the one string that `gatewayd -version`,
# `gatewayctl -version` and the Debian packages all carry.
#
#   deploy/version.sh            from git, in the repository this script is in
#   deploy/version.sh DESCRIBE   from a `git describe` string or a version
#
# The result is a valid Debian version that sorts in build order, so apt
# upgrades from one build to the next:
#   v1.2.3                 -> 1.2.3               a release (a tag vX.Y.Z)
#   v1.2.3-4-gabcdef0      -> 1.2.3+4+gitabcdef0  4 commits after it
#   (no tag) 57 commits    -> 0.0.0+57+gitabcdef0 before the first release
#   ...-dirty              -> ...+dirty           uncommitted changes
#   v1.3.0-rc1             -> 1.3.0~rc1           sorts before 1.3.0
#   abcdef0 (a bare hash)  -> 0~gitabcdef0        sorts before every release
# A version already in this form is printed unchanged.
set -euo pipefail

normalise() {
	local v=${1#v}
	local dirty=
	if [[ $v == *-dirty ]]; then
		v=${v%-dirty}
		dirty=+dirty
	fi
	if [[ $v =~ ^(.+)-([0-9]+)-g([0-9a-f]+)$ ]]; then
		v=${BASH_REMATCH[1]}+${BASH_REMATCH[2]}+git${BASH_REMATCH[3]}
	elif [[ $v =~ ^[0-9a-f]{4,40}$ ]] && ! [[ $v =~ ^[0-9]+$ ]]; then
		v=0~git$v
	fi
	# A pre-release (v1.3.0-rc1) sorts before its release.
	if [[ $v =~ ^([0-9][0-9.]*)-([A-Za-z].*)$ ]]; then
		v=${BASH_REMATCH[1]}~${BASH_REMATCH[2]}
	fi
	v=${v//-/+}
	v=${v//_/.}
	printf '%s%s\n' "$v" "$dirty"
}

if [ $# -gt 1 ]; then
	echo "usage: ${0##*/} [DESCRIBE]" >&2
	exit 2
fi
if [ $# -eq 1 ] && [ -n "$1" ]; then
	v=$(normalise "$1")
else
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	if d=$(git -C "$here" describe --tags --dirty --match 'v[0-9]*' 2>/dev/null); then
		v=$(normalise "$d")
	elif hash=$(git -C "$here" rev-parse --short HEAD 2>/dev/null); then
		count=$(git -C "$here" rev-list --count HEAD)
		dirty=
		git -C "$here" diff --quiet HEAD 2>/dev/null || dirty=-dirty
		v=$(normalise "0.0.0-$count-g$hash$dirty")
	else
		v=0.0.0+unknown
	fi
fi
if ! [[ $v =~ ^[0-9][A-Za-z0-9.+~]*$ ]]; then
	echo "${0##*/}: version ${1:-from git} gives $v, which is not a valid Debian version (want digits first, then A-Z a-z 0-9 . + ~)" >&2
	exit 1
fi
printf '%s\n' "$v"
