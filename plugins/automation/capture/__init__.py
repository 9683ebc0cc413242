"""Change capture from an application's own Postgres: triggers on registered tables write each committed
row change to an outbox in that database (`automation_capture`), the emitter moves it into the ledger."""
