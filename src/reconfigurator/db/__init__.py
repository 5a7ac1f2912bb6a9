"""Database layer: schema, engines, transactions with retry, migrations and queries."""
