"""Persistence: the Store protocol (base.py), its parts per aggregate, the SQLite and PostgreSQL stores."""
