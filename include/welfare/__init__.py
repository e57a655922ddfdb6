"""Nakhon Sawan central welfare warehouse."""
