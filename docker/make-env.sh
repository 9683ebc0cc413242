#!/bin/sh
# Writes the secrets docker-compose.airflow.yml requires into .env beside it (or the path given), readable by
# its owner only (0600). Runs once: an existing file is never overwritten, so the database password and the
# Fernet key stay the ones the volumes were created with. Values are hex or URL-safe base64 (safe in URLs).
#
#   docker/make-env.sh            # writes ./.env next to docker-compose.airflow.yml
#   docker/make-env.sh /path/.env
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
target=${1:-"$root/.env"}

if [ -e "$target" ]; then
    echo "make-env: $target exists; keeping it (delete it first to generate new secrets)" >&2
    exit 0
fi

hex() {  # $1 random bytes as lowercase hex
    od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

fernet_key() {  # 32 random bytes, URL-safe base64 (what cryptography's Fernet expects)
    head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '\n'
}

umask 077
set -C  # noclobber: never replace a file created meanwhile
cat >"$target" <<ENV
# Secrets for docker-compose.airflow.yml, written by docker/make-env.sh. Keep this file private (mode 0600).
# POSTGRES_PASSWORD and AIRFLOW_FERNET_KEY must not change once the volumes exist (see docs/deployment.md).
AIRFLOW_JWT_SECRET=$(hex 32)
AIRFLOW_API_SECRET_KEY=$(hex 32)
AIRFLOW_FERNET_KEY=$(fernet_key)
POSTGRES_PASSWORD=$(hex 32)
AIRFLOW_ADMIN_PASSWORD=$(hex 16)
AIRFLOW_VIEWER_PASSWORD=$(hex 16)

# Optional, with their defaults:
# AIRFLOW_BIND=127.0.0.1               # address the UI/API port 8080 is published on
# AIRFLOW_BASE_URL=http://localhost:8080
# AIRFLOW_CONN_SMTP_DEFAULT=smtp://user:password@mail.example.com:587?from_email=automation%40example.com
ENV
chmod 600 "$target"
echo "make-env: wrote $target (mode 0600); log in as admin with AIRFLOW_ADMIN_PASSWORD from it" >&2
