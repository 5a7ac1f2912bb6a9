"""External networking rows: what a blueprint needs, what the database holds, and the
decision between the two (shared by the executor and the audit)."""
