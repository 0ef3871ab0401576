"""The inbox: messages the platform leaves for a person (awards, objections, contracts)."""
