"""Whether a resolved was earned: the task image's git history (a leaked fix), the agent's look-ups in its
trajectory, and (in `evaluation`) whether two independent gradings agree. Each check says what it found,
with its evidence; none of them changes a verdict silently."""
