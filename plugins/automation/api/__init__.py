"""The plugin's FastAPI app, mounted by Airflow's api-server under /automation."""
