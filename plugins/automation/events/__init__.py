"""Record events: the ledger's ways in, emission as partitioned asset events, webhooks."""
