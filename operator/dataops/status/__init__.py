"""Pure status computation: observed state -> conditions, phase, events."""
