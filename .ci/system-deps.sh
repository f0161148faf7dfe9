#!/usr/bin/env bash
# System packages the stack needs: a JDK 17 (Kafka, Spark; Maven builds the platform's Spark functions with it),
# Maven (resolves the jars once, builds and tests jvm/), Go (builds MinIO once for the postgres-s3 profile).
# PostgreSQL's server is installed by `stack up --profile postgres-s3` when missing.
set -euo pipefail
missing=()
command -v java >/dev/null && command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v go >/dev/null || [ -x /usr/local/go/bin/go ] || missing+=(golang-go)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: please install ${missing[*]} (needs root)" >&2
    exit 1
  fi
  echo "installing ${missing[*]}"
  apt-get update -q >/dev/null
  apt-get install -y -q "${missing[@]}" >/dev/null
fi
# Debian starts a system cluster on install; the platform runs its own, so the system one is not needed.
