"""Business records that actions may touch: the collections registry and bound-parameter SQL."""
