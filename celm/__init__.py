"""celm."""
