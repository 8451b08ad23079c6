"""Hardware drivers; imports nothing of appliance."""
