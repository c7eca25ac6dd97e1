"""The stages in the order data moves: extract, transform, validate, load, reconcile, verify."""
