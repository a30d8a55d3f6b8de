"""CDK code of wavectl: the control plane and one versioned workflow stack per wave."""
