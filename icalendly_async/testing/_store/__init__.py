"""The emulator's state, one store per resource (no HTTP here, no JSON beyond bookings)."""
