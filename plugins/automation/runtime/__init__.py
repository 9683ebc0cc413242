"""What runs inside Airflow tasks: the gate and the step operator, and the data they see."""
