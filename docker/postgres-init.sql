-- The automation definitions database beside Airflow's (the demo CRM lives in it too).
CREATE DATABASE automation OWNER airflow;
