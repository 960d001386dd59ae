#!/usr/bin/with-contenv bashio
# shellcheck shell=bash
# The add-on's entry. With SUPERVISOR_TOKEN set, homeflow reads the add-on's options and asks the
# Supervisor for the broker and the time zone itself (homeflow/addon.py); this only starts it.
exec homeflow run
