"""Local development stack: an embedded Postgres and the Airflow processes of `make run`."""
