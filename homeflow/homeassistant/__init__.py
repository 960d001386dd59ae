"""Home Assistant: MQTT discovery of homeflow's routines, and its REST API for the lights it knows."""
