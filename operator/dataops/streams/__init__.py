"""Clients of the streaming systems the operator manages: Kafka (AdminClient) and Kafka Connect (REST)."""
