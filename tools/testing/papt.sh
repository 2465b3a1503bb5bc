#!/bin/bash
# apt-get with a private state in $CACHE/apt (trixie suites), never the system's.
source "$(dirname "$0")/lib.sh"
PAPT="$CACHE/apt"
exec apt-get -o Dir::Etc::SourceList="$PAPT/etc/sources.list" \
    -o Dir::Etc::SourceParts=/nonexistent -o Dir::State::Lists="$PAPT/lists" \
    -o Dir::Cache::Archives="$PAPT/archives" -o Dir::Cache::pkgcache="" -o Dir::Cache::srcpkgcache="" \
    -o APT::Architecture=amd64 -o APT::Sandbox::User=root "$@"
