"""Device identity, enrolment, signed bundles, updates and the Pi image."""
