"""RFID: the ISO 28560-3 data model, one Reader interface, reader protocols and simulators."""
