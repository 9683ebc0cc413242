"""The plugin's HTML pages (server-side Jinja2 from include/templates/pages), linked into Airflow's nav."""
