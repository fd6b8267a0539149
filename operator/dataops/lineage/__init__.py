"""OpenLineage: dataset identities, column lineage from SQL, events, transports."""
