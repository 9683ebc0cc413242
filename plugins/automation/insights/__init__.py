"""What Airflow ran: executions of workflow DAGs and their statistics, read from Airflow's own metadata."""
