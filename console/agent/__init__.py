"""The background agent: watches both colours, applies the switch policy, rolls back, notifies."""
